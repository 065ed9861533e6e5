"""Which agents would conflict with the base and with each other, on which files."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ConflictsScreen(ModalScreen[None]):
    """A matrix of predicted merges (git merge-tree; nothing is touched) and the files behind each conflict.

    | Key | Description |
    | :- | :- |
    | escape / q | Close. |
    """

    DEFAULT_CSS = """
    ConflictsScreen { align: center middle; }
    ConflictsScreen > VerticalScroll { width: 92%; height: 85%; border: thick $primary; background: $surface;
                                       padding: 0 1; }
    """

    BINDINGS = [Binding("escape,q", "close", "Close", id="conflicts.close", tooltip="Close the conflict matrix")]

    def __init__(self, base: str, vs_base: dict[str, tuple[str, ...]],
                 pairs: dict[tuple[str, str], tuple[str, ...]]) -> None:
        super().__init__()
        self.base = base
        self.vs_base = vs_base
        self.pairs = pairs

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._render_matrix())

    def _render_matrix(self):
        v = self.app.theme_variables
        bad, good = v.get("conflict", ""), v.get("success", "")
        names = sorted(self.vs_base)
        if not names:
            return Text("No agents with work to predict yet.")
        grid = Table(title=Text(f"Predicted merges (base: {self.base})"), show_lines=False, expand=False)
        grid.add_column("")
        grid.add_column(Text(self.base))
        for n in names:
            grid.add_column(Text(n), overflow="fold")
        for a in names:
            row = [Text(a, style="bold")]
            files = self.vs_base[a]
            row.append(Text(f"≠ {len(files)}", style=bad) if files else Text("ok", style=good))
            for b in names:
                if a == b:
                    row.append(Text("—", style="dim"))
                    continue
                shared = self.pairs.get((a, b), self.pairs.get((b, a)))
                row.append(Text("?", style="dim") if shared is None else
                           (Text(f"≠ {len(shared)}", style=bad) if shared else Text("ok", style=good)))
            grid.add_row(*row)
        details = Text()
        for a in names:
            if self.vs_base[a]:
                details.append(f"\n{a} vs {self.base}: ", style="bold")
                details.append(", ".join(self.vs_base[a]), style=bad)
        for (a, b), shared in sorted(self.pairs.items()):
            if shared:
                details.append(f"\n{a} vs {b}: ", style="bold")
                details.append(", ".join(shared), style=bad)
        from rich.console import Group
        return Group(grid, details or Text("\nNo conflicts predicted.", style=good))

    def action_close(self) -> None:
        self.dismiss(None)
