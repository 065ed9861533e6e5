"""Where each agent lives: the tmux socket and session recorded with it, so no flag is needed to find it.

A record's `socket` is the `tmux -L` name its window was opened on (null: the default server);
a record without the key predates this and is looked for on the fleet's own server. An agent
whose pane is on none of the servers looked at, and whose record neither says where it lives
nor that it stopped, is *unseen*: it may run on a server paneboard was not pointed at, so
nothing that stops or removes it goes ahead without saying so (`refuse_unseen`).
"""

from __future__ import annotations

from ..errors import PaneboardError, UnsafeOperation


class SocketMismatch(PaneboardError):
    """`--socket` names another tmux server than the one an agent is recorded on."""


def describe(socket: str | None) -> str:
    """A socket as the user would name it."""
    return repr(socket) if socket else "the default tmux server"


def recorded_socket(records: dict) -> tuple[str | None] | None:
    """(socket,) of the most recently started agent not merged that records one, or None if none does."""
    known = [(float(r.get("started_at") or 0), r["socket"]) for r in records.values()
             if isinstance(r, dict) and "socket" in r and not r.get("merged") and not r.get("host")]
    if not known:
        return None
    return (max(known, key=lambda k: k[0])[1] or None,)


def stopped_on_purpose(rec: dict) -> bool:
    """True when the record says the agent's current run ended by paneboard's hand (kill, merge, restore)."""
    started = float(rec.get("started_at") or 0)
    return bool(rec.get("merged")) or float(rec.get("killed_at") or 0) > started \
        or float(rec.get("restored_at") or 0) > started


def check_socket(records: dict, wanted: str | None, name: str | None = None) -> None:
    """Raise SocketMismatch if `--socket wanted` disagrees with where the agent (or any unmerged one) lives."""
    wanted = wanted or None
    chosen = {name: records[name]} if name in records else \
        {n: r for n, r in records.items() if not r.get("merged")}
    for n, rec in sorted(chosen.items()):
        if "socket" in rec and (rec["socket"] or None) != wanted:
            raise SocketMismatch(
                f"--socket {wanted!r} disagrees with agent {n!r}, recorded on tmux socket {describe(rec['socket'])}; "
                f"drop --socket (paneboard finds each agent on its own socket)")


def refuse_unseen(agent, verb: str, force: bool, flag: str = "--force") -> None:
    """Refuse to stop or remove an agent whose pane cannot be seen, unless forced."""
    if agent.pane_unseen and not force:
        raise UnsafeOperation(
            f"{verb} refused: agent {agent.name!r} has no pane on {describe(agent.socket)} and no record of "
            f"where it runs or that it stopped (it may live on another tmux server: pass --socket NAME); "
            f"nothing was changed ({flag} to {verb} it anyway)")
