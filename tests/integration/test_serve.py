"""`paneboard serve` in a real browser: headless Chromium opens the URL with its token, the dashboard
draws its first screen over the websocket; the same URL without the token, or with a wrong one, is
refused before any dashboard process starts."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from tests.helpers import until
from tests.serve_helpers import CHROMIUM, Chromium, Served, colours, http_status, live_panes, start_agents

pytestmark = pytest.mark.slow


@pytest.fixture
def served(repo: Path, tmux_socket: str, tmp_path: Path):
    start_agents(repo, tmux_socket, tmp_path, ("api", "web"))
    server = Served(repo, tmux_socket)
    yield server
    server.close()


def test_requests_without_the_token_or_with_a_wrong_one_are_refused_and_start_nothing(served: Served):
    for path in ("/", "/?token=wrong", f"/?token={served.token}x", "/ws", "/ws?token=nope&width=80&height=24",
                 "/static/js/textual.js", "/download/anything"):
        assert http_status(served.origin + path) == 403, path
    assert served.dashboards() == []
    assert not any("session" in line for line in served.lines), served.lines
    assert http_status(served.url) == 200                      # the page itself: no dashboard starts for it either
    assert served.dashboards() == []


async def test_a_websocket_from_another_origin_is_refused_even_with_the_token(served: Served):
    import aiohttp
    async with aiohttp.ClientSession() as client:
        ws_url = served.origin.replace("http", "ws", 1) + f"/ws?token={served.token}"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(ws_url, headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    assert served.dashboards() == []


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
async def test_headless_chromium_draws_the_dashboard_and_ctrl_c_leaves_the_agents_running(
        served: Served, tmux_socket: str):
    import aiohttp
    panes = live_panes(tmux_socket)
    assert len(panes) == 2
    browser = Chromium()
    try:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(browser.page_socket_url(), max_msg_size=0) as page:
                await browser.call(page, "Page.enable")
                blank = base64.b64decode((await browser.call(page, "Page.captureScreenshot"))["data"])
                await browser.call(page, "Page.navigate", url=served.url)
                first_byte = "document.body.classList.contains('-first-byte')"

                async def drawn():
                    result = await browser.call(page, "Runtime.evaluate", expression=first_byte)
                    return result["result"]["value"]

                await until(drawn, timeout=60, interval=0.2)   # the terminal got the dashboard's first bytes

                async def screenshot_with_many_colours():
                    shot = base64.b64decode((await browser.call(page, "Page.captureScreenshot"))["data"])
                    return shot if colours(shot) > 12 else None

                shot = await until(screenshot_with_many_colours, timeout=30, interval=0.5)
        served.wait_for("session 1 started")
        dashboards = served.dashboards()
        assert len(dashboards) == 1 and f"--repo {served_repo(served)}" in dashboards[0], dashboards
        assert colours(blank) <= 2 and colours(shot) > 12     # about:blank is one colour; the dashboard many
        assert served.interrupt() == 0
        served.wait_for("session 1 ended")
        assert served.dashboards() == []
        assert live_panes(tmux_socket) == panes             # the agents keep running
    finally:
        browser.close()


def served_repo(served: Served) -> str:
    return served.wait_for("serving the dashboard of ").split("serving the dashboard of ", 1)[1].split(" (")[0]


async def test_two_browsers_get_a_dashboard_each(served: Served):
    from tests.serve_helpers import open_session
    sessions = [await open_session(served) for _ in range(2)]
    try:
        await until(lambda: len(served.dashboards()) == 2, timeout=30)
        served.wait_for("session 2 started")
        for _, websocket in sessions:
            # The dashboard paints: binary frames of terminal output come back.
            message = await asyncio.wait_for(websocket.receive(), 30)
            assert message.data
    finally:
        for client, websocket in sessions:
            await websocket.close()
            await client.close()
    await until(lambda: served.dashboards() == [], timeout=30)
