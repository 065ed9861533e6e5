"""paneboard's command line: the only place that prints and picks exit codes."""

from __future__ import annotations

import argparse
import contextlib
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

    db = sub.add_parser("dashboard", parents=[common], help="open the dashboard (the default)")
    db.add_argument("--read-only", action="store_true",
                    help="watch only: every key that would change an agent, the repository or paneboard's state is refused")
    _serve_parser(sub, common)
    _start_parsers(sub, common)
    ls = sub.add_parser("ls", parents=[common], help="list agents")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--fetch", action="store_true",
                    help="fetch each remote agent's work first, so its predicted conflicts are current")
    a = sub.add_parser("attach", parents=[common], help="attach this terminal to an agent's pane")
    a.add_argument("name")
    se = sub.add_parser("send", parents=[common],
                        help="deliver a reply so the agent submits it (exit 1 if that is not confirmed), or press a key")
    se.add_argument("name")
    se.add_argument("text", nargs="?", default=None)
    se.add_argument("--key", default=None, help="press one named key instead (Enter, Escape, Up, C-c, ...)")
    se.add_argument("--no-enter", action="store_true", help="do not press Enter after the text")
    k = sub.add_parser("kill", parents=[common], help="stop an agent (its branch and worktree are kept)")
    k.add_argument("name")
    k.add_argument("--forget", action="store_true", help="also drop it from the list")
    k.add_argument("--force", action="store_true", help="even if its pane cannot be seen (another tmux server?)")
    _restart_parser(sub, common)
    df = sub.add_parser("diff", parents=[common],
                        help="an agent's changes against its base (committed, uncommitted, untracked), or agent A vs agent B")
    df.add_argument("name")
    df.add_argument("other", nargs="?", default=None, help="a second agent to compare with")
    df.add_argument("--stat", action="store_true", help="only the list of files with +/- counts")
    df.add_argument("--since-review", action="store_true",
                    help="only what changed since the last review (the dashboard's, or `diff --mark`)")
    df.add_argument("--mark", action="store_true", help="record what this shows as reviewed")
    _review_parsers(sub, common)
    _land_parsers(sub, common)
    sub.add_parser("doctor", parents=[common], help="check tmux, git, which agent CLIs are installed and every agent file")
    ex = sub.add_parser("explain", parents=[common],
                        help="why an agent reads its status: the source, its latest events, the rules that matched")
    ex.add_argument("name", nargs="?", default=None)
    ex.add_argument("--agent", metavar="PRESET", default=None, help="with --screen: whose rules to run")
    ex.add_argument("--screen", type=Path, metavar="FILE", default=None,
                    help="run the rules on a saved screen (plain text, ANSI allowed) instead of a live agent")
    ex.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _start_parsers(sub, common) -> None:
    """The subcommands that start agents: demo, up, spawn."""
    d = sub.add_parser("demo", parents=[common], help="run the built-in offline demo (or reopen the one running)")
    d.add_argument("--dir", type=Path, default=None, help="where to create the demo repository")
    d.add_argument("--stop", action="store_true", help="stop the demo's agents and its tmux server")
    d.add_argument("--no-dashboard", action="store_true", help="start the demo agents and exit")
    d.add_argument("--speed", type=float, default=1.0, help="demo speed factor (2 = twice as fast)")
    u = sub.add_parser("up", parents=[common], help="start every task of the task file")
    u.add_argument("--restart", action="store_true", help="also restart the tasks' agents that stopped")
    s = sub.add_parser("spawn", parents=[common], help="start one agent")
    s.add_argument("name")
    s.add_argument("--agent", default=None, help="preset name or full command")
    s.add_argument("--prompt", default="", help="the task for the agent (delivered literally)")
    s.add_argument("--scope", action="append", default=[], metavar="GLOB", help="paths the agent may touch")
    s.add_argument("--base", default=None, help="base branch (default: the checked-out branch)")
    s.add_argument("--count", type=int, default=1, help="run the same task in N agents (best-of-N)")
    s.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--host", default=None, metavar="NAME", help="run it on a host from the task file's `hosts:`")


def _serve_parser(sub, common) -> None:
    from .serve import DEFAULT_HOST, DEFAULT_PORT, port_number
    sv = sub.add_parser("serve", parents=[common],
                        help="serve the dashboard to a web browser (textual-serve), behind a URL with a random token")
    sv.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    sv.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                    help=f"TCP port (default: {DEFAULT_PORT}; 0: any free port)")
    sv.add_argument("--read-only", action="store_true",
                    help="the browser can watch but change nothing (no replies, approvals, merges, discards...)")


def _land_parsers(sub, common) -> None:
    """The subcommands that land or drop an agent's work: check, merge, discard, restore, prune."""
    ck = sub.add_parser("check", parents=[common], help="run the agent's check command in its worktree")
    ck.add_argument("name")
    mg = sub.add_parser("merge", parents=[common],
                        help="approve: commit the agent's work, run its check, merge into its base (all or nothing)")
    mg.add_argument("name")
    mg.add_argument("--strategy", choices=("merge", "squash", "rebase"), default=None)
    mg.add_argument("--force", action="store_true",
                    help="merge even if the agent is working or waiting, or its check fails (never past a conflict)")
    dc = sub.add_parser("discard", parents=[common],
                        help="archive the agent's work, then remove its window, worktree and branch (restorable)")
    dc.add_argument("name")
    dc.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    dc.add_argument("--force", action="store_true",
                    help="even if its pane cannot be seen (another tmux server?), and archive its ignored "
                         "files that are not disposable even above 50 MB")
    rs = sub.add_parser("restore", parents=[common], help="bring a discarded agent's worktree back from its archive")
    rs.add_argument("name")
    pr = sub.add_parser("prune", parents=[common],
                        help="remove worktrees that are merged and clean, whose agent is not running, and that hold "
                             "no ignored files but disposable ones; name the rest and what keeps them")
    pr.add_argument("--dry-run", action="store_true")
    pr.add_argument("--force", action="store_true", help="even worktrees of agents whose pane cannot be seen")


def _restart_parser(sub, common) -> None:
    rt = sub.add_parser("restart", parents=[common],
                        help="start a stopped agent again in its worktree, resuming its conversation")
    rt.add_argument("name", nargs="?", default=None)
    rt.add_argument("--all", action="store_true", help="every agent that is not running, merged or discarded")
    rt.add_argument("--force", action="store_true", help="even if its pane cannot be seen (another tmux server?)")
    rt.add_argument("--agent", default=None,
                    help="for a forgotten branch taken up again: preset or command (default: its task's, or defaults.agent)")


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
    ou = sub.add_parser("logs", parents=[common],
                        help="an agent's recorded output (its pane's log, here or on its host), escapes stripped")
    ou.add_argument("name")
    ou.add_argument("--bytes", type=int, default=65536, metavar="N", help="how much of the end to show (default 64 KiB)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _enter_existing_directory(args)
        code = _dispatch(args) or 0
        sys.stdout.flush()  # a reader that went away (`paneboard ls | head -3`) shows here, not at exit
        return code
    except BrokenPipeError as exc:
        if _stdout_gone():
            # The reader has all it wanted: exit quietly, like a command killed by SIGPIPE.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        return _failed(exc, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is one line; the unexpected ones keep a report
        return _failed(exc, args)


def _failed(exc: Exception, args) -> int:
    """Say on one line why the command failed, and pick its exit code."""
    from .errors import DiskFull, disk_full_path, one_line
    near = args.repo
    if near is None:
        with contextlib.suppress(OSError):
            near = Path.cwd()
    message = one_line(exc, near)
    if not isinstance(exc, (PaneboardError, OSError)):
        message += f" (a bug: please report it with {_crash_report(exc)})"
    with contextlib.suppress(OSError):
        print(f"paneboard: {message}", file=sys.stderr)
    if disk_full_path(exc, near) is not None:
        return DiskFull.exit_code
    return exc.exit_code if isinstance(exc, PaneboardError) else 1


def _crash_report(exc: Exception) -> str:
    """Write exc's traceback to a file for a bug report; its path (or, when it cannot be written, stderr)."""
    import tempfile
    import traceback
    text = "".join(traceback.format_exception(exc))
    try:
        fd, path = tempfile.mkstemp(prefix="paneboard-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    except OSError:
        print(text, file=sys.stderr, end="")
        return "the traceback above"


def _stdout_gone() -> bool:
    """True when nobody reads our standard output any more (its pipe's reader closed)."""
    import select
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poll.poll(0))
    except (OSError, ValueError):
        return True


def _enter_existing_directory(args) -> None:
    """Refuse to run from a directory that was removed (an agent's worktree, merged or discarded)."""
    try:
        os.getcwd()
    except FileNotFoundError:
        if args.repo is not None and args.repo.is_absolute() and args.repo.is_dir():
            os.chdir(args.repo)  # git and every relative path then start from the repository
            return
        raise PaneboardError("the current directory no longer exists: cd to your repository") from None


def _fleet(args, announce: bool = True):
    from .fleet import Fleet
    if args.repo is not None and not args.repo.is_dir():
        raise PaneboardError(f"--repo {args.repo}: no such directory")
    fleet = Fleet.open(args.repo or Path.cwd(), socket_name=args.socket, task_file=args.file)
    if args.socket is not None:
        # Each agent is found on the socket recorded with it; a flag that says otherwise is a mistake.
        from .fleet.sockets import check_socket
        check_socket(fleet.state.read()["agents"], args.socket, getattr(args, "name", None))
    # A merge recovered, a state file moved aside and rebuilt: one line each, before the command's own
    # output (the dashboard shows them as notifications instead).
    for line in fleet.take_notices() if announce else ():
        print(f"paneboard: {line}", file=sys.stderr)
    return fleet


def _dispatch(args) -> int | None:
    cmd = args.command or "dashboard"
    if cmd == "doctor":
        return _doctor(args.repo or Path.cwd())
    if cmd == "demo":
        return _demo(args)
    if cmd == "explain" and (args.screen is not None or args.name is None):
        return _explain_screen(args)
    fleet = _fleet(args, announce=cmd != "dashboard")
    if cmd == "dashboard":
        return _dashboard(fleet, read_only=getattr(args, "read_only", False))
    if cmd == "serve":
        return _serve(fleet, args)
    run = _COMMANDS.get(cmd)
    if run is None:
        raise PaneboardError(f"unknown command {cmd!r}")
    return run(fleet, args)


def _up(fleet, args) -> int:
    from . import config
    taskfile = config.load(args.file or fleet.repo.root / config.DEFAULT_FILE)
    fleet.settings = taskfile.settings if args.socket is None else config.with_overrides(
        taskfile.settings, tmux_socket=args.socket)
    if fleet.settings.tmux_socket and fleet.settings.tmux_socket != fleet.tmux.socket_name:
        fleet.tmux = type(fleet.tmux)(fleet.settings.tmux_socket)
    if not taskfile.tasks:
        print(f"no tasks in {taskfile.path}: add some under `tasks:` (see README)")
        return 0
    started, queued, skipped = fleet.up(taskfile)
    for agent in started:
        print(f"started {agent.name}  {agent.branch}  {agent.worktree}  pane {agent.pane}  PORT={agent.port}")
    for name in queued:
        print(f"queued  {name}  (waits for its `after` tasks to be merged)")
    code = _up_existing(fleet, skipped, args.restart)
    _say_notices(fleet)
    return code


def _up_existing(fleet, skipped: list[str], restart: bool) -> int:
    """What `up` says of tasks started before: running ones are left alone, stopped ones restarted if asked."""
    agents = {a.name: a for a in fleet.agents(stats=False)} if skipped else {}
    code = 0
    for name in skipped:
        a = agents.get(name)
        if a is not None and (a.pane_alive or a.merged):
            print(f"skipped {name}  ({'running' if a.pane_alive else 'merged'})")
        elif not restart:
            print(f"stopped {name}  (start it again: paneboard restart {_quote(name)}, or `paneboard up --restart`)")
        else:
            try:
                r = fleet.restart(name)
            except PaneboardError as exc:
                print(f"paneboard: {exc}", file=sys.stderr)
                code = exc.exit_code
                continue
            print(f"restarted {name}  {r.branch}  {r.worktree}  pane {r.pane}  PORT={r.port}")
    return code


def _quote(name: str) -> str:
    import shlex
    return shlex.quote(name)


def _restart(fleet, args) -> int:
    if args.all == (args.name is not None):
        raise PaneboardError("restart needs an agent NAME or --all (not both)")
    if args.name is not None:
        agent = fleet.restart(args.name, force=args.force, agent_spec=args.agent)
        print(_restarted_line(agent))
        _say_notices(fleet)
        return 0
    started, failed = fleet.restart_all()
    for agent in started:
        print(_restarted_line(agent))
    _say_notices(fleet)
    for name, why in failed:
        print(f"paneboard: not restarted {name}: {why}", file=sys.stderr)
    if not started and not failed:
        print("nothing to restart: every agent is running, merged or discarded")
    return 1 if failed else 0


def _restarted_line(agent) -> str:
    from . import presets
    preset = presets.resolve(agent.agent)
    if agent.session_id and preset.resume:
        how = f"resuming session {agent.session_id}"
    else:
        how = "continuing its latest session" if preset.resume_latest else "started as before"
    return f"restarted {agent.name}  {agent.branch}  {agent.worktree}  pane {agent.pane}  PORT={agent.port}  ({how})"


def _send(fleet, args) -> int:
    if args.key:
        fleet.send_key(args.name, args.key)
    elif args.text is None:
        raise PaneboardError("send needs TEXT or --key KEY")
    else:
        # Not confirmed: DeliveryNotConfirmed says what the screen showed, and the exit code is 1.
        done = fleet.send(args.name, args.text, enter=not args.no_enter)
        print(f"sent to {args.name}: {'confirmed, ' if not args.no_enter else ''}{done.saw}")
    return 0


def _check(fleet, args) -> int:
    result = fleet.check(args.name)
    print(f"{'passed' if result.passed else 'FAILED'} in {result.duration:.1f}s: {result.summary_line}  "
          f"(log: {result.log_path})")
    return 0 if result.passed else 1


def _refuse_if_live(fleet, name: str) -> None:
    """Refuse to merge an agent that is working or waiting for an answer: merging would stop it mid-turn."""
    from .errors import AgentIsLive
    from .model import Kind
    from .monitor import assess_agent
    agent = assess_agent(fleet, name)
    if agent.pane_alive and agent.status.kind in (Kind.WORKING, Kind.NEEDS_INPUT):
        why = " ".join(agent.status.why.split())[:80]
        raise AgentIsLive(f"merge refused: {name} is {agent.status.kind.value} ({why}); merging now would take "
                          f"its work mid-turn and close its window. Let it finish or answer it, or use --force; "
                          f"nothing was changed")


def _merge(fleet, args) -> int:
    if not args.force:
        _refuse_if_live(fleet, args.name)
    result = fleet.merge(args.name, strategy=args.strategy, force=args.force,
                         on_step=lambda step: print(f"… {step}", file=sys.stderr))
    if result.changed:
        print(f"merged {args.name} into {result.base} ({result.strategy}): {result.old[:10]} -> {result.new[:10]}, "
              f"{len(result.commits)} commit(s)")
        for note in result.notes:
            print(f"paneboard: {note}", file=sys.stderr)
    else:
        print(f"nothing to merge: {args.name} adds nothing to {result.base}; nothing was changed")
    return 0


def _discard(fleet, args) -> int:
    files, commits = fleet.discard_preview(args.name)
    holdings = fleet.discard_holdings(args.name, force=args.force)    # refuses here, before anything stops
    what = f"{files} changed file(s), {commits} commit(s)" + _kept_words(holdings)
    force = args.force
    if not args.yes:
        if not sys.stdin.isatty():
            raise PaneboardError(f"discarding {args.name} removes {what} from its worktree and branch "
                                 f"(archived first); confirm with --yes")
        unseen = fleet.get(args.name, stats=False).pane_unseen and not force
        warning = ("WARNING: its pane is not on this tmux server and nothing says it stopped: it may still run "
                   "on another one. ") if unseen else ""
        answer = input(f"{warning}Discard {args.name}: {what} archived then removed. "
                       f"Type the agent's name to confirm: ")
        if answer.strip() != args.name:
            print("not discarded")
            return 1
        force = True    # the question said so, and the answer was yes
    saved = fleet.discard(args.name, force=force, on_step=lambda step: print(f"… {step}", file=sys.stderr))
    print(f"discarded {args.name}; its work is archived at {saved.ref}"
          + (f" and {saved.patch}" if saved.patch else "") + f" (undo: paneboard restore {args.name!r})")
    return 0


def _kept_words(holdings) -> str:
    """", 2 ignored file(s) (1.2 KB) and the work of 1 submodule(s)" for a discard question ("" when none)."""
    if holdings is None:
        return ""
    ignored = holdings.all_ignored()
    size = sum(n for _, n in ignored)
    words = f", {len(ignored)} ignored file(s) ({size / 1024:.1f} KB)" if ignored else ""
    return words + (f", the work of {len(holdings.submodules)} submodule(s)" if holdings.submodules else "")


def _restore(fleet, args) -> int:
    notes: list[str] = []
    agent = fleet.restore(args.name, notes, on_step=lambda step: print(f"… {step}", file=sys.stderr))
    print(f"restored {agent.name}: {agent.branch} in {agent.worktree}" + "".join(f"; {n}" for n in notes))
    return 0


def _prune(fleet, args) -> int:
    if args.dry_run:
        for st in fleet.prune_plan(force=args.force):
            print(f"would remove {st.branch}  {st.path}" if st.prunable
                  else f"keeps {st.branch}  {st.path}: {st.why_kept}")
        return 0
    removed, kept = fleet.prune(force=args.force)
    for st in removed:
        print(f"removed {st.branch}  {st.path}")
    for st in kept:
        print(f"kept {st.branch}  {st.path}: {st.why_kept or 'it changed while prune looked; run prune again'}")
    if not removed and not kept:
        print("nothing to prune (only clean, merged worktrees of stopped agents are removed)")
    return 0


def _kill(fleet, args) -> int:
    if fleet.unqueue(args.name):
        print(f"dropped queued task {args.name} (it had not started)")
        return 0
    agent = fleet.kill(args.name, force=args.force)
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
    if args.host is not None and fleet.settings.host(args.host) is None:
        known = ", ".join(h.name for h in fleet.settings.hosts) or "none: add a `hosts:` section to the task file"
        raise PaneboardError(f"--host: unknown host {args.host!r} (hosts: {known})")
    task = Task(name=args.name, agent=agent, prompt=args.prompt, scope=tuple(args.scope),
                env=env, count=args.count, host=args.host)
    for t in fleet.expand(task):
        a = fleet.spawn(t, base=args.base)
        where = f"  on host {a.host}" if a.host else ""
        print(f"started {a.name}  {a.branch}  {a.worktree}{where}  pane {a.pane}  PORT={a.port}")
        _say_notices(fleet)
    return 0


def _say_notices(fleet) -> None:
    """One line each for what a start noticed (a Gemini settings file it could not use), on stderr."""
    for line in fleet.take_notices():
        print(f"paneboard: {line}", file=sys.stderr)


def _ls(fleet, as_json: bool, fetch: bool = False) -> int:
    from .model import ago
    from .monitor import assess_once, hidden_marks
    agents = assess_once(fleet, fetch=fetch) + fleet.queued()
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
    if not agent.host and fleet.tmux_client_inside():
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
    if a.host:
        return _diff_remote(fleet, a, other, stat_only, since_review or mark)
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
        a.base = fleet.base_of(a)
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


def _diff_remote(fleet, a, other: str | None, stat_only: bool, marks: bool) -> int:
    """An agent on a host: its work (uncommitted too) fetched into the local repository, then diffed here."""
    from .git import diff
    if other is not None or marks:
        raise PaneboardError(f"agent {a.name!r} runs on host {a.host!r}: compare and review marks do not work "
                             f"for it yet; `paneboard diff {a.name}` shows its work")
    ref = fleet.fetch_remote(a.name)
    base = fleet.base_of(a)
    old = fleet_git_merge_base(fleet.repo.root, base, ref)
    changes = diff.changed_between(fleet.repo.root, old, ref)
    print(f"# {a.name} on host {a.host} ({a.branch}, with uncommitted work, fetched to {ref}) vs {base}: "
          f"{len(changes)} files, +{sum(c.added for c in changes)} -{sum(c.removed for c in changes)}")
    for c in changes:
        print(f"{c.status}  +{c.added} -{c.removed}  {c.path}")
    if not stat_only:
        sys.stdout.flush()
        subprocess.run(["git", "--no-pager", "diff", old, ref], cwd=fleet.repo.root)
    return 0


def fleet_git_merge_base(root: Path, base: str, ref: str) -> str:
    """The merge-base of the local base and a fetched ref (the base itself when they share no history)."""
    from .git.worktrees import run_git
    found = run_git(root, "merge-base", base, ref, check=False).strip()
    return found or run_git(root, "rev-parse", "--verify", f"{base}^{{commit}}").strip()


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


def _logs(fleet, args) -> int:
    if args.bytes < 1:
        raise PaneboardError("--bytes takes a positive number")
    out = fleet.output_log(args.name, args.bytes)
    if out.written_at is None:
        print(f"no output recorded for {args.name} yet ({out.where})")
    elif out.text:
        print(out.text)
    return 0


def _explain_screen(args) -> int:
    """`paneboard explain --agent PRESET --screen FILE`: the agent's rules run on a saved screen."""
    from . import presets
    from .monitor.explain import explain_screen, render
    if args.screen is None or args.name is not None or not args.agent:
        raise PaneboardError("explain takes an agent's name, or --agent PRESET --screen FILE "
                             "(see `paneboard explain --help`)")
    if not presets.is_known(args.agent):
        raise PaneboardError(f"unknown preset {args.agent!r} (presets: {', '.join(presets.PRESETS)}; "
                             f"or add ~/.config/paneboard/agents/{args.agent}.yaml)")
    preset = presets.resolve(args.agent)
    try:
        text = args.screen.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise PaneboardError(f"--screen {args.screen}: cannot read: {exc.strerror or exc}") from None
    _print_explained(explain_screen(text, preset.rules), args.json, render)
    return 0


def _explain(fleet, args) -> int:
    from .monitor.explain import explain_agent, render
    if args.agent is not None:
        raise PaneboardError("--agent goes with --screen FILE; for a running agent give only its name")
    fleet.get(args.name, stats=False)    # an unknown name is one line, before any look
    _print_explained(explain_agent(fleet, args.name), args.json, render)
    return 0


def _print_explained(doc: dict, as_json: bool, render) -> None:
    if as_json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for line in render(doc):
            print(line)


def _doctor_agent_files() -> bool:
    """Check every agent file (shipped and the user's); print each problem on its line; True if all are fine."""
    from . import agent_files
    files, problems = agent_files.check()
    user = [f for f in files if f.parent != agent_files.BUILTIN_DIR]
    print(f"agent files: {len(files) - len(user)} shipped, {len(user)} in {agent_files.shown(agent_files.user_dir())}")
    for line in problems:
        print(f"  problem: {line}")
    return not problems


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
    ok = _doctor_agent_files() and ok
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
    print(f"        {writer_line(Path(repo.common_dir) / 'paneboard')}")


def writer_line(state_dir: Path) -> str:
    """Which dashboard runs on_trigger and writes the timelines and status files, as `doctor` says it."""
    from .monitor.writer import holder
    pid = holder(state_dir)
    who = "no dashboard runs" if pid is None else f"dashboard pid {pid} runs" if pid else "a dashboard runs"
    return f"{who} on_trigger and writes the timelines and status files (one per repository)"


def _dashboard(fleet, title: str | None = None, read_only: bool = False) -> int:
    from .dashboard import run_dashboard
    return run_dashboard(fleet, title=title, read_only=read_only)


def _serve(fleet, args) -> int:
    from .serve import ServeOptions, serve
    task_file = args.file.resolve() if args.file is not None else None
    options = ServeOptions(repo=fleet.repo.root, host=args.host, port=args.port, socket=fleet.tmux.socket_name,
                           task_file=task_file, read_only=args.read_only)
    return serve(options, say=lambda line: print(line, flush=True))


def _demo(args) -> int:
    import tempfile
    from . import demo
    from .fleet import Fleet
    from .tmux import Tmux
    Tmux.version()
    socket_name = args.socket or demo.SOCKET
    if args.stop:
        return _demo_stop(socket_name)
    repo = demo.running(socket_name)
    if repo is not None:
        if args.dir is not None and not repo.is_relative_to(args.dir.resolve()):
            raise PaneboardError(f"a demo is already running at {repo} (tmux socket {socket_name!r}): "
                                 f"`paneboard demo` reopens it, `paneboard demo --stop` stops it")
        print(f"the demo is still running: reopening it (repository {repo}, tmux socket {socket_name!r})")
        fleet = Fleet.open(repo, socket_name=socket_name)
    else:
        root = args.dir or Path(tempfile.mkdtemp(prefix="paneboard-demo-"))
        if root.exists() and any(root.iterdir()):
            raise PaneboardError(f"{root} is not empty; pick an empty or new --dir")
        # The tmux server the first agent starts passes this on to every demo agent.
        os.environ["PANEBOARD_DEMO_SPEED"] = str(1.0 / max(args.speed, 0.01))
        fleet, started = demo.start(root, socket_name)
        print(f"demo repository: {fleet.repo.root}")
        print(f"{len(started)} demo agents on tmux socket {socket_name!r} (see them with: tmux -L {socket_name} attach)")
    try:
        return 0 if args.no_dashboard else _dashboard(fleet, title="paneboard demo")
    finally:
        # Quitting (or a crash) never takes the agents with it: say where they are and how to stop them.
        again = "" if socket_name == demo.SOCKET else f" --socket {socket_name}"
        print(f"the demo's agents keep running on tmux socket {socket_name!r} (tmux -L {socket_name} attach); "
              f"its repository: {fleet.repo.root}")
        print(f"reopen the dashboard: paneboard demo{again}; stop them: paneboard demo --stop{again}")


def _demo_stop(socket_name: str) -> int:
    from . import demo
    repos = demo.stop(socket_name)
    if not repos:
        print(f"no demo is running on tmux socket {socket_name!r}; nothing was stopped")
        return 0
    for repo in repos:
        print(f"stopped the demo on tmux socket {socket_name!r}; its repository stays at {repo} "
              f"(remove it when you are done)")
    return 0


# Subcommands that act on a fleet: name -> handler(fleet, args) returning the exit code.
_COMMANDS = {
    "up": _up, "spawn": _spawn, "ls": lambda fleet, args: _ls(fleet, args.json, args.fetch),
    "attach": lambda fleet, args: _attach(fleet, args.name), "send": _send,
    "diff": lambda fleet, args: _diff(fleet, args.name, args.other, args.stat, args.since_review, args.mark),
    "check": _check, "comment": _comment, "combine": _combine, "log": _log, "logs": _logs,
    "merge": _merge, "discard": _discard, "restore": _restore, "prune": _prune, "kill": _kill,
    "restart": _restart, "explain": _explain,
}


if __name__ == "__main__":
    sys.exit(main())
