"""tmux: the server wrapper (`server`), the control-mode client that streams output (`control`), and per-pane logs (`logs`).

`Tmux` and `PaneInfo` are what the rest of paneboard uses; `control` loads asyncio machinery
and is imported only by the live monitor.
"""

from .server import MIN_VERSION, PANE_OPTIONS, PaneInfo, Tmux, is_key, tmux_arg

__all__ = ["MIN_VERSION", "PANE_OPTIONS", "PaneInfo", "Tmux", "is_key", "tmux_arg"]
