"""Review screens: an agent's changed files beside a diff, and agent A against agent B."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from app.git.diff import FileChange, Row, blob_texts, changed_between, changed_files, file_texts, side_by_side
from widgets.diff_view import DiffView, lexer_for


def file_label(change: FileChange) -> Content:
    """The file list's line for a change: status letter, +/- (or 'bin') and path."""
    if change.binary:
        counts = Content.from_markup("[$text-warning]bin[/]      ")
    else:
        counts = Content.from_markup(
            "[$text-success]+$added[/] [$text-error]-$removed[/]",
            added=f"{change.added:<4}", removed=f"{change.removed:<4}",
        )
    return Content.assemble(
        Content.from_markup("[b]$status[/b] ", status=change.status), counts, " ",
        Content(change.display_path),
    )


class FilesDiffScreen(Screen):
    """A list of changed files on the left, the diff of the highlighted file on the right.

    Subclasses say where the files and their texts come from (`load_changes`, `load_texts`);
    both run in a thread worker and come back as messages.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "next_file", "Next file", id="review.next_file",
                tooltip="Show the next changed file"),
        Binding("k", "previous_file", "Previous file", id="review.previous_file",
                tooltip="Show the previous changed file"),
        Binding("vertical_line", "toggle_split", "Split/unified", id="review.toggle_split",
                tooltip="Switch between side-by-side and unified diff"),
        Binding("n,right_square_bracket", "next_hunk", "Next hunk", id="review.next_hunk",
                tooltip="Scroll the diff to the next hunk"),
        Binding("p,left_square_bracket", "previous_hunk", "Previous hunk", id="review.previous_hunk",
                tooltip="Scroll the diff to the previous hunk"),
        Binding("escape", "back", "Back", id="review.back", tooltip="Close the review"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | j | Show the next changed file. |
    | k | Show the previous changed file. |
    | \\| | Switch between side-by-side and unified diff. |
    | n, ] | Scroll the diff to the next hunk. |
    | p, [ | Scroll the diff to the previous hunk. |
    | escape | Close the review. |
    """

    DEFAULT_CSS = """
    FilesDiffScreen {
        #review-title { height: 1; padding: 0 1; background: $panel; color: $text; text-style: bold; }
        #review-files { width: 30%; min-width: 24; max-width: 60; height: 1fr; border: none; }
        #review-diff { width: 1fr; height: 1fr; }
    }
    """

    class FilesLoaded(Message):
        """The changed files were computed."""

        def __init__(self, changes: list[FileChange]) -> None:
            super().__init__()
            self.changes = changes

    class FileLoaded(Message):
        """One file's diff rows were computed (texts None for a binary file)."""

        def __init__(self, change: FileChange, rows: list[Row] | None,
                     texts: tuple[str, str] | None) -> None:
            super().__init__()
            self.change = change
            self.rows = rows
            self.texts = texts

    class LoadFailed(Message):
        """Reading from git failed; `error` says why."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, title: str, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.review_title = title
        self.changes: list[FileChange] = []

    def compose(self) -> ComposeResult:
        yield Static(Content(self.review_title), id="review-title")
        with Horizontal():
            yield OptionList(id="review-files")
            yield DiffView(id="review-diff")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DiffView).show_message("loading…")
        self.query_one("#review-files", OptionList).focus()
        self.load_files()

    # --- where data comes from: each subclass defines both (they run in worker threads) ---
    # load_changes() -> list[FileChange]: the changed files.
    # load_texts(change) -> (old, new) | None: a change's texts, None when binary.
    load_changes: Callable[[], list[FileChange]]
    load_texts: Callable[[FileChange], tuple[str, str] | None]

    # --- workers -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="review-files")
    def load_files(self) -> None:
        """Compute the changed files and post them."""
        try:
            changes = self.load_changes()
        except Exception as error:  # noqa: BLE001 - shown to the user, not swallowed
            self.post_message(self.LoadFailed(str(error)))
            return
        self.post_message(self.FilesLoaded(changes))

    @work(thread=True, exclusive=True, group="review-diff")
    def load_file(self, change: FileChange) -> None:
        """Compute one file's rows and post them, unless another file was asked for since."""
        try:
            texts = self.load_texts(change)
            rows = None if texts is None else side_by_side(*texts)
            lexer_for(change.path)  # imports the lexer's module here, not on the UI thread
        except Exception as error:  # noqa: BLE001
            self.post_message(self.LoadFailed(str(error)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.FileLoaded(change, rows, texts))

    # --- handlers ------------------------------------------------------------------------

    @on(FilesLoaded)
    def _files_loaded(self, message: FilesLoaded) -> None:
        self.changes = message.changes
        files = self.query_one("#review-files", OptionList)
        files.set_options(Option(file_label(change), id=str(index))
                          for index, change in enumerate(self.changes))
        if self.changes:
            files.highlighted = 0
        else:
            self.query_one(DiffView).show_message("no changes")

    @on(OptionList.OptionHighlighted, "#review-files")
    def _file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        change = self.current_change
        if change is None:
            return
        self.query_one(DiffView).show_message("loading…", change.path)
        self.load_file(change)

    @on(FileLoaded)
    def _file_loaded(self, message: FileLoaded) -> None:
        if message.change is not self.current_change:
            return
        diff = self.query_one(DiffView)
        change = message.change
        if message.rows is None or message.texts is None:
            diff.show_binary(change.path)
        elif not message.rows and change.status == "R":
            diff.show_message(f"renamed from {change.old_path}; content unchanged", change.path)
        else:
            diff.show_rows(message.rows, message.change.path, *message.texts)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.query_one(DiffView).show_message(f"could not read the diff: {message.error}")
        self.notify(message.error, title="Review", severity="error", markup=False)

    @property
    def current_change(self) -> FileChange | None:
        """The change under the file list's cursor."""
        highlighted = self.query_one("#review-files", OptionList).highlighted
        if highlighted is None or not 0 <= highlighted < len(self.changes):
            return None
        return self.changes[highlighted]

    # --- actions -------------------------------------------------------------------------

    def action_next_file(self) -> None:
        """Move the file cursor down."""
        self.query_one("#review-files", OptionList).action_cursor_down()

    def action_previous_file(self) -> None:
        """Move the file cursor up."""
        self.query_one("#review-files", OptionList).action_cursor_up()

    def action_toggle_split(self) -> None:
        """Switch the diff between side-by-side and unified."""
        self.query_one(DiffView).action_toggle_split()

    def action_next_hunk(self) -> None:
        """Scroll the diff to its next hunk."""
        self.query_one(DiffView).action_next_hunk()

    def action_previous_hunk(self) -> None:
        """Scroll the diff to its previous hunk."""
        self.query_one(DiffView).action_previous_hunk()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_split", "next_hunk", "previous_hunk"):
            return bool(self.query(DiffView) and self.query_one(DiffView).rows)
        return True

    def action_back(self) -> None:
        """Leave the review (dismiss, so whoever opened it can follow up)."""
        self.dismiss(None)


class ReviewScreen(FilesDiffScreen):
    """What an agent changed since its base: committed, uncommitted and untracked work."""

    def __init__(self, worktree: Path, base: str, title: str, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(title, name=name, id=id, classes=classes)
        self.worktree = Path(worktree)
        self.base = base

    def load_changes(self) -> list[FileChange]:
        return changed_files(self.worktree, self.base)

    def load_texts(self, change: FileChange) -> tuple[str, str] | None:
        return file_texts(self.worktree, self.base, change)


class CompareScreen(FilesDiffScreen):
    """Agent A's result against agent B's, file by file (A is the old side, B the new)."""

    def __init__(self, repo: Path, rev_a: str, rev_b: str, label_a: str, label_b: str,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(f"{label_a}  ⇄  {label_b}", name=name, id=id, classes=classes)
        self.repo = Path(repo)
        self.rev_a, self.rev_b = rev_a, rev_b
        self.label_a, self.label_b = label_a, label_b

    def load_changes(self) -> list[FileChange]:
        return changed_between(self.repo, self.rev_a, self.rev_b)

    def load_texts(self, change: FileChange) -> tuple[str, str] | None:
        return blob_texts(self.repo, change)
