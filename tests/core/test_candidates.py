"""Best-of-N candidates of one task never overlap each other; they still overlap everyone else."""

from __future__ import annotations

from app.config import Settings
from app.model import Agent
from app.monitor.facts import Facts, apply_overlaps
from app.triggers import overlaps


def test_candidates_of_one_task_do_not_overlap_each_other():
    files = {"parser-1": {"parse.py", "README.md"}, "parser-2": {"parse.py"}, "parser-3": {"parse.py", "lex.py"},
             "docs": {"README.md"}, "lexer": {"lex.py"}}
    got = overlaps(files, {"parser-1": "parser", "parser-2": "parser", "parser-3": "parser"})
    assert got == {"parser-1": {"docs": ["README.md"]}, "docs": {"parser-1": ["README.md"]},
                   "parser-3": {"lexer": ["lex.py"]}, "lexer": {"parser-3": ["lex.py"]}}
    # Candidates of two different tasks do overlap, and so does everyone without the hint.
    two = overlaps({"a-1": {"x"}, "b-1": {"x"}}, {"a-1": "a", "b-1": "b"})
    assert two == {"a-1": {"b-1": ["x"]}, "b-1": {"a-1": ["x"]}}
    assert overlaps({"a-1": {"x"}, "a-2": {"x"}}) == {"a-1": {"a-2": ["x"]}, "a-2": {"a-1": ["x"]}}


def _facts(name: str, task: str, files: tuple[str, ...]) -> Facts:
    agent = Agent(name=name, task=task, agent="demo", branch=f"paneboard/{name}", worktree=f"/w/{name}",
                  base="main", session="s", files=files)
    return Facts.new(agent, Settings())


def test_the_monitor_knows_candidates_by_their_task():
    facts = {f.agent.name: f for f in (_facts("fix-1", "fix", ("app.py",)), _facts("fix-2", "fix", ("app.py",)),
                                       _facts("ui", "ui", ("app.py",)), _facts("fix", "fix", ("app.py",)))}
    changed = apply_overlaps(facts, 100.0)
    assert set(changed) == {"fix-1", "fix-2", "ui", "fix"}
    assert facts["fix-1"].overlaps == {"ui": ["app.py"], "fix": ["app.py"]}      # not fix-2
    assert facts["fix-2"].overlaps == {"ui": ["app.py"], "fix": ["app.py"]}
    # A lone task named like the candidates' task is not one of them: it overlaps them all.
    assert facts["fix"].overlaps == {"fix-1": ["app.py"], "fix-2": ["app.py"], "ui": ["app.py"]}
    assert facts["ui"].overlap_since == 100.0
