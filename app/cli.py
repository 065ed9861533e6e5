"""paneboard's command line: the only place that prints and picks exit codes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .errors import PaneboardError

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(USAGE_ERROR, f"paneboard: {message} (see `paneboard --help`)\n")


def _common(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes; subcommands get them without defaults so that
    `paneboard --socket X ls` and `paneboard ls --socket X` mean the same."""
    common = argparse.ArgumentParser(add_help=False)
    d = {} if defaults else {"default": argparse.SUPPRESS}
    common.add_argument("--repo", type=Path, help="repository to work on (default: the current directory)",
                        **({"default": None} if defaults else d))
    common.add_argument("--socket", metavar="NAME", **({"default": None} if defaults else d),
                        help="tmux socket name (tmux -L); default: $PANEBOARD_TMUX_SOCKET or your tmux server")
    common.add_argument("-f", "--file", type=Path, metavar="FILE", **({"default": None} if defaults else d),
                        help="task file (default: paneboard.yaml at the repository root)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common(defaults=False)
    p = _Parser(prog="paneboard", parents=[_common(defaults=True)],
                description="Run many AI coding agents in parallel: one tmux pane and one git worktree each.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("dashboard", parents=[common], help="open the dashboard (the default)")
    d = sub.add_parser("demo", parents=[common], help="run the built-in offline demo")
    d.add_argument("--dir", type=Path, default=None, help="where to create the demo repository")
    d.add_argument("--keep", action="store_true", help="leave the demo agents running after the dashboard exits")
    d.add_argument("--no-dashboard", action="store_true", help="start the demo agents and exit")
    d.add_argument("--speed", type=float, default=1.0, help="demo speed factor (2 = twice as fast)")
    sub.add_parser("up", parents=[common], help="start every task of the task file")
    s = sub.add_parser("spawn", parents=[common], help="start one agent")
    s.add_argument("name")
    s.add_argument("--agent", default=None, help="preset name or full command")
    s.add_argument("--prompt", default="", help="the task for the agent (delivered literally)")
    s.add_argument("--scope", action="append", default=[], metavar="GLOB", help="paths the agent may touch")
    s.add_argument("--base", default=None, help="base branch (default: the checked-out branch)")
    s.add_argument("--count", type=int, default=1, help="run the same task in N agents (best-of-N)")
    s.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ls = sub.add_parser("ls", parents=[common], help="list agents")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    a = sub.add_parser("attach", parents=[common], help="attach this terminal to an agent's pane")
    a.add_argument("name")
    se = sub.add_parser("send", parents=[common], help="type a line (or press a key) in an agent's pane")
    se.add_argument("name")
    se.add_argument("text", nargs="?", default=None)
    se.add_argument("--key", default=None, help="press one named key instead (Enter, Escape, Up, C-c, ...)")
    se.add_argument("--no-enter", action="store_true", help="do not press Enter after the text")
    k = sub.add_parser("kill", parents=[common], help="stop an agent (its branch and worktree are kept)")
    k.add_argument("name")
    k.add_argument("--forget", action="store_true", help="also drop it from the list")
    df = sub.add_parser("diff", parents=[common],
                        help="an agent's changes against its base (committed, uncommitted, untracked), or agent A vs agent B")
    df.add_argument("name")
    df.add_argument("other", nargs="?", default=None, help="a second agent to compare with")
    df.add_argument("--stat", action="store_true", help="only the list of files with +/- counts")
    df.add_argument("--since-review", action="store_true",
                    help="only what changed since the last review (the dashboard's, or `diff --mark`)")
    df.add_argument("--mark", action="store_true", help="record what this shows as reviewed")
    _review_parsers(sub, common)
    ck = sub.add_parser("check", parents=[common], help="run the agent's check command in its worktree")
    ck.add_argument("name")
    mg = sub.add_parser("merge", parents=[common],
                        help="approve: commit the agent's work, run its check, merge into its base (all or nothing)")
    mg.add_argument("name")
    mg.add_argument("--strategy", choices=("merge", "squash", "rebase"), default=None)
    mg.add_argument("--force", action="store_true", help="merge even if the check fails (never past a conflict)")
    dc = sub.add_parser("discard", parents=[common],
                        help="archive the agent's work, then remove its window, worktree and branch (restorable)")
    dc.add_argument("name")
    dc.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rs = sub.add_parser("restore", parents=[common], help="bring a discarded agent's worktree back from its archive")
    rs.add_argument("name")
    pr = sub.add_parser("prune", parents=[common], help="remove worktrees that are merged and clean")
    pr.add_argument("--dry-run", action="store_true")
    sub.add_parser("doctor", parents=[common], help="check tmux, git and which agent CLIs are installed")
    return p


def _review_parsers(sub, common: argparse.ArgumentParser) -> None:
    """The review commands: comment, combine, log."""
    cm = sub.add_parser("comment", parents=[common],
                        help="send a review comment on PATH:LINE of the agent's current version, at once")
    cm.add_argument("name")
    cm.add_argument("place", metavar="PATH:LINE")
    cm.add_argument("text")
    cb = sub.add_parser("combine", parents=[common],
                        help="build TASK-combined (a stopped agent) from chosen files of the task's candidates")
    cb.add_argument("task")
    cb.add_argument("--take", action="append", default=[], metavar="PATH=CANDIDATE",
                    help="take this file (or directory) from this candidate; repeat for more")
    cb.add_argument("--from", dest="start_from", default=None, metavar="CANDIDATE",
                    help="the rest of the tree from this candidate (default: the base)")
    lg = sub.add_parser("log", parents=[common], help="an agent's timeline, oldest first, with times")
    lg.add_argument("name")
    lg.add_argument("--json", action="store_true", help="one JSON object per line")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args) or 0
    except PaneboardError as exc:
        print(f"paneboard: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _fleet(args):
    from .fleet import Fleet
    if args.repo is not None and not args.repo.is_dir():
        raise PaneboardError(f"--repo {args.repo}: no such directory")
    fleet = Fleet.open(args.repo or Path.cwd(), socket_name=args.socket, task_file=args.file)
    if fleet.recovered is not None:
        r = fleet.recovered
        print(f"paneboard: an interrupted merge into {r.base} was {r.outcome} "
              f"({r.old[:10]} -> {r.new[:10]}){': ' + '; '.join(r.notes) if r.notes else ''}", file=sys.stderr)
    return fleet


def _dispatch(args) -> int | None:
    cmd = args.command or "dashboard"
    if cmd == "doctor":
        return _doctor(args.repo or Path.cwd())
    if cmd == "demo":
        return _demo(args)
    fleet = _fleet(args)
    if cmd == "dashboard":
        return _dashboard(fleet)
    run = _COMMANDS.get(cmd)
    if run is None:
        raise PaneboardError(f"unknown command {cmd!r}")
    return run(fleet, args)


def _up(fleet, args) -> int:
    from . import config
    taskfile = config.load(args.file or fleet.repo.root / config.DEFAULT_FILE)
    fleet.settings = taskfile.settings if args.socket is None else config.with_overrides(
        taskfile.settings, tmux_socket=args.socket)
    fleet.tmux = type(fleet.tmux)(fleet.settings.tmux_socket or os.environ.get("PANEBOARD_TMUX_SOCKET"))
    if not taskfile.tasks:
        print(f"no tasks in {taskfile.path}: add some under `tasks:` (see README)")
        return 0
    started, queued, skipped = fleet.up(taskfile)
    for agent in started:
        print(f"started {agent.name}  {agent.branch}  {agent.worktree}  pane {agent.pane}  PORT={agent.port}")
    for name in queued:
        print(f"queued  {name}  (waits for its `after` tasks to be merged)")
    for name in skipped:
        print(f"skipped {name}  (already exists)")
    fleet.wait_for_prompts()
    return 0


def _send(fleet, args) -> int:
    if args.key:
        fleet.send_key(args.name, args.key)
    elif args.text is None:
        raise PaneboardError("send needs TEXT or --key KEY")
    else:
        fleet.send(args.name, args.text, enter=not args.no_enter)
    return 0


def _check(fleet, args) -> int:
    result = fleet.check(args.name)
    print(f"{'passed' if result.passed else 'FAILED'} in {result.duration:.1f}s: {result.summary_line}  "
          f"(log: {result.log_path})")
    return 0 if result.passed else 1


def _merge(fleet, args) -> int:
    result = fleet.merge(args.name, strategy=args.strategy, force=args.force,
                         on_step=lambda step: print(f"… {step}", file=sys.stderr))
    if result.changed:
        print(f"merged {args.name} into {result.base} ({result.strategy}): {result.old[:10]} -> {result.new[:10]}, "
              f"{len(result.commits)} commit(s)")
    else:
        print(f"nothing to merge: {args.name} adds nothing to {result.base}")
    return 0


def _discard(fleet, args) -> int:
    files, commits = fleet.discard_preview(args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            raise PaneboardError(f"discarding {args.name} removes {files} changed file(s) and {commits} commit(s) "
                                 f"from its worktree and branch (archived first); confirm with --yes")
        answer = input(f"Discard {args.name}: {files} file(s), {commits} commit(s) archived then removed. "
                       f"Type the agent's name to confirm: ")
        if answer.strip() != args.name:
            print("not discarded")
            return 1
    saved = fleet.discard(args.name)
    print(f"discarded {args.name}; its work is archived at {saved.ref}"
          + (f" and {saved.patch}" if saved.patch else "") + f" (undo: paneboard restore {args.name!r})")
    return 0


def _restore(fleet, args) -> int:
    agent = fleet.restore(args.name)
    print(f"restored {agent.name}: {agent.branch} in {agent.worktree}")
    return 0


def _prune(fleet, args) -> int:
    if args.dry_run:
        from .git import archive, worktrees
        base = worktrees.resolve_base(fleet.repo, fleet.settings.base)
        for st in archive.worktree_states(fleet.repo.root, base):
            verdict = "would remove" if st.prunable else ("keeps (unmerged)" if not st.merged else "keeps (dirty)")
            print(f"{verdict}  {st.branch}  {st.path}")
        return 0
    removed = fleet.prune()
    for st in removed:
        print(f"removed {st.branch}  {st.path}")
    if not removed:
        print("nothing to prune (only clean, merged worktrees are removed)")
    return 0


def _kill(fleet, args) -> int:
    if fleet.unqueue(args.name):
        print(f"dropped queued task {args.name} (it had not started)")
        return 0
    agent = fleet.kill(args.name)
    if args.forget:
        fleet.forget(args.name)
    print(f"stopped {agent.name}; its work stays on branch {agent.branch} in {agent.worktree}")
    return 0


def _spawn(fleet, args) -> int:
    from . import presets
    from .config import Task
    agent = args.agent or fleet.settings.agent
    if not presets.is_known(agent):
        raise PaneboardError(f"unknown preset {agent!r} (presets: {', '.join(presets.PRESETS)}; "
                             f"or give a full command; see `paneboard doctor`)")
    if args.count < 1:
        raise PaneboardError("--count must be at least 1")
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise PaneboardError(f"--env wants KEY=VALUE, got {item!r}")
        env[key] = value
    task = Task(name=args.name, agent=agent, prompt=args.prompt, scope=tuple(args.scope),
                env=env, count=args.count)
    for t in fleet.expand(task):
        a = fleet.spawn(t, base=args.base)
        print(f"started {a.name}  {a.branch}  {a.worktree}  pane {a.pane}  PORT={a.port}")
    fleet.wait_for_prompts()
    return 0


def _ls(fleet, as_json: bool) -> int:
    from .model import ago
    from .monitor import assess_once, hidden_marks
    agents = assess_once(fleet) + fleet.queued()
    marks = hidden_marks(fleet, agents)
    if as_json:
        out = []
        for a in agents:
            doc = a.to_json()
            for t in doc["triggers"]:
                # A status bar counts what still needs someone: acknowledged and snoozed ones say so.
                t.update(marks.get((a.name, t["kind"]), {"acknowledged": False, "snoozed_until": None}))
            out.append(doc)
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return 0
    if not agents:
        print("no agents (start some with `paneboard up` or `paneboard spawn`)")
        return 0
    now = time.time()
    rows = [("NAME", "AGENT", "STATUS", "TRIGGERS", "ELAPSED", "FILES", "+/-", "WHY")]
    for a in agents:
        # Triggers the human acknowledged or snoozed in the dashboard are left out here too.
        shown = [t.kind.value + ("!" if t.loud else "") for t in a.triggers
                 if not (marks.get(t.key, {}).get("acknowledged") or marks.get(t.key, {}).get("snoozed_until"))]
        rows.append((a.name, a.agent[:16], a.status.kind.value, ",".join(shown) or "-",
                     ago(now - a.started_at) if a.started_at else "-",
                     str(a.files_changed), f"+{a.added}/-{a.removed}", a.status.why[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return 0


def _attach(fleet, name: str) -> int:
    agent = fleet.get(name, stats=False)
    if agent.pane is None:
        raise PaneboardError(f"agent {name!r} has no tmux pane any more ({agent.status.why})")
    if fleet.tmux_client_inside():
        fleet.switch_client_to(name)
        return 0
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    argv = fleet.attach_argv(name)
    os.execvpe(argv[0], argv, env)
    return 0  # not reached


def _diff(fleet, name: str, other: str | None, stat_only: bool, since_review: bool = False,
          mark: bool = False) -> int:
    from .git import diff
    if other is not None and (since_review or mark):
        raise PaneboardError("--since-review and --mark work on one agent, not a comparison of two")
    a = fleet.get(name, stats=False)
    if not a.worktree_exists:
        raise PaneboardError(f"agent {name!r} has no worktree any more ({a.worktree})")
    wt = Path(a.worktree)
    if other is None and since_review:
        old = fleet.reviewed_tree(name)
        if old is None:
            raise PaneboardError(f"{name} was never reviewed: review it in the dashboard or with "
                                 f"`paneboard diff {name} --mark` first")
        new = diff.snapshot_tree(wt)
        changes = diff.changed_between(wt, old, new)
        header = f"{a.name}: what changed since the last review"
    elif other is None:
        old, new = diff.merge_base(wt, a.base), diff.snapshot_tree(wt)
        changes = diff.changed_between(wt, old, new)
        header = f"{a.name} ({a.branch}, with uncommitted work) vs {a.base}"
    else:
        b = fleet.get(other, stats=False)
        if not b.worktree_exists:
            raise PaneboardError(f"agent {other!r} has no worktree any more ({b.worktree})")
        old, new = diff.snapshot_tree(wt), diff.snapshot_tree(Path(b.worktree))
        changes = diff.changed_between(fleet.repo.root, old, new)
        header = f"{a.name} -> {b.name} (each with uncommitted work)"
    print(f"# {header}: {len(changes)} files, +{sum(c.added for c in changes)} -{sum(c.removed for c in changes)}")
    for c in changes:
        counts = "binary" if c.binary else f"+{c.added} -{c.removed}"
        print(f"{c.status}  {c.display_path}  {counts}")
    if not stat_only and changes:
        sys.stdout.flush()
        color = "--color=always" if sys.stdout.isatty() else "--color=never"
        subprocess.run(["git", "diff", "-M", color, old, new], cwd=fleet.repo.root)
    if mark:
        commit = fleet.mark_reviewed(name, new)
        print(f"# marked as reviewed ({commit[:10]}): `paneboard diff {name} --since-review` shows what comes next",
              file=sys.stderr)
    return 0


def _comment(fleet, args) -> int:
    c = fleet.comment(args.name, args.place, args.text)
    print(f"sent to {args.name}: {c.header()}")
    return 0


def _combine(fleet, args) -> int:
    take: dict[str, str] = {}
    for item in args.take:
        path, sep, who = item.rpartition("=")
        if not sep or not path or not who:
            raise PaneboardError(f"--take wants PATH=CANDIDATE, got {item!r}")
        take[path.rstrip("/") or path] = who
    agent = fleet.combine(args.task, take, args.start_from)
    print(f"created {agent.name} (stopped): {agent.branch} in {agent.worktree}")
    print(f"review it: paneboard diff {agent.name}; check it: paneboard check {agent.name}; "
          f"merge it: paneboard merge {agent.name}")
    return 0


def _log(fleet, args) -> int:
    from . import timeline
    if args.name not in fleet.state.read()["agents"] and not fleet.timeline.path(args.name).exists():
        _ = fleet.get(args.name, stats=False)      # AgentNotFound, with its hint
    events = timeline.with_gaps(fleet.timeline.events(args.name), fleet.timeline.watched(), time.time())
    for event in events:
        print(json.dumps(event.to_json(), ensure_ascii=False) if args.json else timeline.line(event))
    if not events and not args.json:
        print(f"nothing recorded for {args.name} yet")
    return 0


def _doctor(path: Path) -> int:
    from . import presets
    ok = True
    tmux = shutil.which("tmux")
    if tmux:
        ver = subprocess.run([tmux, "-V"], capture_output=True, text=True).stdout.strip()
        print(f"tmux    {ver}  ({tmux})")
        try:
            from .tmux import Tmux
            Tmux.version()
        except PaneboardError as exc:
            print(f"        problem: {exc}")
            ok = False
    else:
        print("tmux    MISSING: install tmux >= 3.2")
        ok = False
    git = shutil.which("git")
    if git:
        ver = subprocess.run([git, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"git     {ver}  ({git})")
    else:
        print("git     MISSING: install git >= 2.38")
        ok = False
    print(f"python  {sys.version.split()[0]}  ({sys.executable})")
    _doctor_repo(path)
    print("agents:")
    for p in presets.PRESETS.values():
        where = shutil.which(p.binary)
        print(f"  {p.name:<9} {'found at ' + where if where else 'not on PATH'}  - {p.description}")
    return 0 if ok else 1


def _doctor_repo(path: Path) -> None:
    """What paneboard sees in the repository here (read with GitPython; nothing is changed)."""
    import git
    from .git.worktrees import BRANCH_PREFIX
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        print(f"repo    {path} is not inside a git repository")
        return
    try:
        head = repo.active_branch.name
    except TypeError:
        head = "detached HEAD (set defaults.base or --base)"
    ours = [h.name for h in repo.heads if h.name.startswith(BRANCH_PREFIX)]
    archives = [r.path for r in repo.references if r.path.startswith("refs/paneboard/archive/")]
    worktrees = repo.git.worktree("list", "--porcelain").count("worktree ")
    try:
        repo.head.commit
        commits = "has commits"
    except ValueError:
        commits = "NO COMMITS yet (make one so agents have a base)"
    print(f"repo    {repo.working_tree_dir}: on {head}, {commits}, {'dirty' if repo.is_dirty() else 'clean'}; "
          f"{worktrees} worktree(s), {len(ours)} paneboard branch(es), {len(archives)} archive(s)")


def _dashboard(fleet, title: str | None = None) -> int:
    from .dashboard import run_dashboard
    return run_dashboard(fleet, title=title)


def _demo(args) -> int:
    import tempfile
    from . import config, demo
    from .fleet import Fleet
    from .tmux import Tmux
    Tmux.version()
    root = args.dir or Path(tempfile.mkdtemp(prefix="paneboard-demo-"))
    if root.exists() and any(root.iterdir()):
        raise PaneboardError(f"{root} is not empty; pick an empty or new --dir")
    repo = demo.create_demo_repo(root / "shop")
    (repo / config.DEFAULT_FILE).write_text(demo.demo_task_file_text(), encoding="utf-8")
    os.environ["PANEBOARD_DEMO_SPEED"] = str(1.0 / max(args.speed, 0.01))
    socket_name = args.socket or f"paneboard-demo-{os.getpid()}"
    fleet = Fleet.open(repo, socket_name=socket_name)
    taskfile = config.load(repo / config.DEFAULT_FILE)
    started, queued, _ = fleet.up(taskfile)
    print(f"demo repository: {repo}")
    print(f"{len(started)} demo agents on tmux socket {socket_name!r} "
          f"(see them with: tmux -L {socket_name} attach)")
    if args.no_dashboard:
        return 0
    code = 1
    try:
        code = _dashboard(fleet, title="paneboard demo")
    finally:
        if args.keep or code != 0:
            # A dashboard that crashed never takes the agents with it.
            print(f"demo agents still running: tmux -L {socket_name} attach; "
                  f"dashboard again: paneboard --repo {repo} --socket {socket_name}; "
                  f"stop them: tmux -L {socket_name} kill-server")
        else:
            fleet.tmux.kill_server()
            print(f"demo stopped; its repository stays at {repo}")
    return code


# Subcommands that act on a fleet: name -> handler(fleet, args) returning the exit code.
_COMMANDS = {
    "up": _up, "spawn": _spawn, "ls": lambda fleet, args: _ls(fleet, args.json),
    "attach": lambda fleet, args: _attach(fleet, args.name), "send": _send,
    "diff": lambda fleet, args: _diff(fleet, args.name, args.other, args.stat, args.since_review, args.mark),
    "check": _check, "comment": _comment, "combine": _combine, "log": _log,
    "merge": _merge, "discard": _discard, "restore": _restore, "prune": _prune, "kill": _kill,
}


if __name__ == "__main__":
    sys.exit(main())
