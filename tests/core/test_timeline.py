"""Each agent's timeline: appended, rotated, read back past garbage, with the stretches nobody watched."""

from __future__ import annotations

from pathlib import Path

from app import timeline
from app.timeline import Event, Timeline, with_gaps


def test_events_come_back_oldest_first_with_their_source_and_data(tmp_path: Path):
    tl = Timeline(tmp_path)
    tl.record("a/b ü", "status", "working -> idle", source="monitor", at=20.0)
    tl.record("a/b ü", "reply", "yes\nplease", source="cli", at=10.0, count=1)
    events = tl.events("a/b ü")
    assert [(e.at, e.kind, e.text, e.source, e.data) for e in events] == [
        (10.0, "reply", "yes\nplease", "cli", {"count": 1}), (20.0, "status", "working -> idle", "monitor", None)]
    assert tl.events("nobody") == []


def test_garbage_lines_are_skipped_and_the_rest_reads(tmp_path: Path):
    tl = Timeline(tmp_path)
    tl.record("a", "started", "one", at=1.0)
    with tl.path("a").open("ab") as f:
        f.write(b'{"torn": \n\xff\xfe\n[1, 2]\n')
    tl.record("a", "merge", "two", at=2.0)
    assert [e.text for e in tl.events("a")] == ["one", "two"]


def test_a_full_file_is_rotated_and_only_one_older_file_is_kept(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(timeline, "MAX_BYTES", 2000)
    tl = Timeline(tmp_path)
    for n in range(200):
        tl.record("a", "reply", f"message {n:03d}", at=float(n))
    files = sorted(p.name for p in tl.dir.iterdir())
    assert files == ["a.1.jsonl", "a.jsonl"]
    assert all(p.stat().st_size <= 2000 for p in tl.dir.iterdir())
    texts = [e.text for e in tl.events("a")]
    assert texts[-1] == "message 199" and 10 < len(texts) < 60, "bounded, newest kept, oldest dropped"
    assert texts == sorted(texts)


def test_stretches_nobody_watched_are_said_plainly(tmp_path: Path):
    tl = Timeline(tmp_path)
    tl.watching(1000.0, 1200.0)
    tl.watching(1000.0, 1300.0)          # the same dashboard's heartbeat extends its interval
    tl.watching(5000.0, 5100.0)
    assert tl.watched() == [(1000.0, 1300.0), (5000.0, 5100.0)]
    events = [Event(1100.0, "started", "x"), Event(3000.0, "reply", "answered from the CLI")]
    out = with_gaps(events, tl.watched(), now=5100.0)
    assert [e.kind for e in out] == ["started", "not_watched", "reply"]
    gap = out[1]
    assert gap.data == {"from": 1300.0, "to": 5000.0} and gap.text.startswith("not watched from ")
    assert [e.kind for e in with_gaps(events, tl.watched(), now=9000.0)][-1] == "not_watched"
    assert with_gaps([], tl.watched(), now=9000.0) == []


def test_a_restarted_monitor_repeats_nothing_and_misses_nothing(tmp_path: Path):
    from app.model import Agent, Kind, Status, Trigger, TriggerKind
    from app.monitor.timeline_feed import TimelineFeed
    tl = Timeline(tmp_path)
    agent = Agent(name="a", task="a", agent="demo", branch="paneboard/a", worktree=str(tmp_path), base="main",
                  session="s", files=("x.py",))
    asks = Trigger(TriggerKind.NEEDS_INPUT, "a", "asks", since=100.0)
    first = TimelineFeed(tl)
    first.status(agent, Status(Kind.WORKING, "busy", since=90.0), settled=False)     # a guess: not recorded
    first.status(agent, Status(Kind.NEEDS_INPUT, "asks", since=100.0), settled=True)
    first.triggers([asks], [])
    first.stats(agent)
    again = TimelineFeed(tl)                                   # the dashboard restarted
    again.adopt(again.read_back(["a"]))
    again.status(agent, Status(Kind.NEEDS_INPUT, "asks", since=100.0), settled=True)
    again.triggers([Trigger(TriggerKind.NEEDS_INPUT, "a", "asks", since=100.5)], [])  # the same occurrence
    agent.files = ("x.py", "y.py")                              # y.py was touched while nobody watched
    again.stats(agent)
    again.triggers([], [asks])
    again.triggers([Trigger(TriggerKind.NEEDS_INPUT, "a", "asks again", since=300.0)], [])
    said = [(e.kind, e.text) for e in tl.events("a")]
    assert said == [("status", "needs_input: asks"), ("trigger", "needs_input raised: asks"),
                    ("file", "first touched x.py"), ("file", "first touched y.py"),
                    ("trigger", "needs_input cleared"), ("trigger", "needs_input raised: asks again")]


def test_an_answer_sent_by_an_automatic_rule_says_which(tmp_path: Path):
    t = Timeline(tmp_path)
    t.record("a", "reply", "continue", source="dashboard", rule="on_limit: resume", at=10.0)
    t.record("a", "reply", "yes please", source="cli", at=20.0)
    by_rule, by_hand = [timeline.line(e) for e in t.events("a")]
    assert by_rule.endswith("continue  (on_limit: resume)") and by_hand.endswith("yes please  (cli)")
