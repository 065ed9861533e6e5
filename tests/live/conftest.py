"""The live tests' one agent per CLI file: a module's `CLI` names it; its moments run in order on it."""

from __future__ import annotations

import pytest

from tests.live.harness import live_session


@pytest.fixture(scope="module")
def live(request, tmp_path_factory):
    cli = request.module.CLI
    with live_session(cli, tmp_path_factory.mktemp(cli)) as session:
        yield session
