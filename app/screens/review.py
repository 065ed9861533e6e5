"""Review screens: an agent's changed files beside a diff, and agent A against agent B."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from rich.markup import escape
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

from app.comments import Comment, Drafts
from app.errors import PaneboardError
from app.git.diff import (FileChange, Row, blob_texts, changed_between, file_texts, merge_base, side_by_side,
                          snapshot_tree)
from widgets.comment_drafts import DraftList
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
        yield from self.compose_below()
        yield Footer()

    def compose_below(self) -> ComposeResult:
        """What a subclass shows under the files and the diff (nothing here)."""
        yield from ()

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
        self.file_shown(change)

    def file_shown(self, change: FileChange) -> None:
        """A subclass's follow-up once a file's diff is on screen (nothing here)."""

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


@dataclass
class AgentLink:
    """What a review needs of the fleet to talk back to the agent under review; all calls may block."""

    name: str
    drafts: Drafts
    send: Callable[[list[Comment]], str]
    """Deliver comments as one message (raises PaneboardError when it cannot)."""
    busy: Callable[[], str | None]
    """Why sending now may lose the message (e.g. "it is working"), None when it is fine."""
    reviewed_tree: Callable[[], str | None]
    """The tree the reviewer last saw, None if never reviewed."""


class ReviewScreen(FilesDiffScreen):
    """What an agent changed since its base (committed, uncommitted and untracked work), or since the last review.

    With an `AgentLink`, the reviewer comments on the line under the diff's cursor; the drafts
    collect below the diff and one key sends them all. It dismisses with the tree it showed (so
    the caller can record it as reviewed), or None when it showed nothing.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "comment", "Comment", id="review.comment",
                tooltip="Comment on the line under the diff's cursor (kept as a draft until sent)"),
        Binding("S", "send_comments", "Send comments", id="review.send_comments",
                tooltip="Send every draft comment to the agent as one message"),
        Binding("s", "since_review", "Since review", id="review.since_review",
                tooltip="Switch between the whole work against the base and what changed since the last review"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | c | Comment on the line under the diff's cursor. |
    | S | Send every draft comment to the agent. |
    | s | Whole work / only what changed since the last review. |
    """

    class CommentsSent(Message):
        """Draft comments reached the agent (`error` set when they did not)."""

        def __init__(self, comments: list[Comment], error: str | None = None) -> None:
            super().__init__()
            self.comments = comments
            self.error = error

    def __init__(self, worktree: Path, base: str, title: str, name: str | None = None,
                 id: str | None = None, classes: str | None = None, *, link: AgentLink | None = None,
                 since_review: bool = False) -> None:
        super().__init__(title, name=name, id=id, classes=classes)
        self.worktree = Path(worktree)
        self.base = base
        self.link = link
        self.since_review = since_review
        self.reviewed: str | None = None
        """The tree the reviewer saw last time (read once, when the review opens)."""
        self.shown_tree: str | None = None
        """The worktree's state this review shows (what closing it records as reviewed)."""
        self._looked = False

    def compose_below(self) -> ComposeResult:
        if self.link is not None:
            yield DraftList(id="review-drafts")

    def on_mount(self) -> None:
        super().on_mount()
        if self.link is not None:
            self.query_one(DraftList).show(self.link.drafts.items)

    def load_changes(self) -> list[FileChange]:
        if self.link is not None and not self._looked:
            self.reviewed, self._looked = self.link.reviewed_tree(), True
        new = snapshot_tree(self.worktree)
        old = self.reviewed if self.since_review and self.reviewed else merge_base(self.worktree, self.base)
        changes = changed_between(self.worktree, old, new)
        self.shown_tree = new
        return changes

    def load_texts(self, change: FileChange) -> tuple[str, str] | None:
        return file_texts(self.worktree, self.base, change)

    @on(FilesDiffScreen.FilesLoaded)
    def _title_says_what_is_shown(self, message: FilesDiffScreen.FilesLoaded) -> None:
        what = "since your last review" if self.since_review and self.reviewed else f"vs {self.base}"
        title = self.review_title.replace(f"vs {self.base}", what) if f"vs {self.base}" in self.review_title \
            else f"{self.review_title}  ({what})"
        self.query_one("#review-title", Static).update(Content(title))

    def file_shown(self, change: FileChange) -> None:
        self._show_marks()

    # -- since the last review --------------------------------------------------

    def action_since_review(self) -> None:
        """Switch between the whole work and what changed since the last review."""
        if not self.since_review and self._looked and self.reviewed is None:
            self.notify("not reviewed before: everything here is new", title="Review", timeout=4)
            return
        self.since_review = not self.since_review
        self.query_one(DiffView).show_message("loading…")
        self.load_files()

    # -- comments ---------------------------------------------------------------

    def action_comment(self) -> None:
        """Ask for a comment on the line under the diff's cursor."""
        change, line = self.current_change, self.query_one(DiffView).cursor_line()
        if self.link is None or change is None or line is None:
            self.notify("put the diff's cursor on a line first (tab to the diff, j/k to move)",
                        title="Comment", timeout=4)
            return
        from .comment import CommentScreen
        path = change.old_path or change.path if line.side == "old" else change.path

        def keep(text: str | None) -> None:
            if text and self.link is not None:
                self._change_drafts(self.link.drafts.add,
                                    Comment(path=path, line=line.line, side=line.side, code=line.code, text=text))

        self.app.push_screen(CommentScreen(f"{path}:{line.line} ({line.side})   `{line.code.strip()[:80]}`"), keep)

    @on(DraftList.EditRequested)
    def _edit_draft(self, message: DraftList.EditRequested) -> None:
        from .comment import CommentScreen
        c = message.comment

        def keep(text: str | None) -> None:
            if text and self.link is not None:
                self._change_drafts(self.link.drafts.edit, c.id, text)

        self.app.push_screen(CommentScreen(c.header(), c.text), keep)

    @on(DraftList.DeleteRequested)
    def _delete_draft(self, message: DraftList.DeleteRequested) -> None:
        if self.link is not None:
            self._change_drafts(self.link.drafts.delete, message.comment.id)

    def _change_drafts(self, change: Callable, *args: object) -> None:
        """Change the drafts (saved at once); a failed save (a full disk) is said, and the drafts shown as kept."""
        try:
            change(*args)
        except (OSError, PaneboardError) as exc:
            self.notify(f"the draft comments could not be saved: {exc}", title="Comments", severity="error",
                        markup=False)
        self._drafts_changed()

    def _drafts_changed(self) -> None:
        if self.link is not None:
            self.query_one(DraftList).show(self.link.drafts.items)
            self._show_marks()
            self.refresh_bindings()

    def _show_marks(self) -> None:
        change = self.current_change
        if self.link is None or change is None:
            return
        paths = {"new": change.path, "old": change.old_path or change.path}
        self.query_one(DiffView).set_commented({(c.side, c.line) for c in self.link.drafts.items
                                                if c.path == paths.get(c.side)})

    def action_send_comments(self) -> None:
        """Send every draft to the agent; a working agent asks first (a message typed into it may be lost)."""
        if self.link is None or not self.link.drafts.items:
            return
        comments = list(self.link.drafts.items)
        busy = self.link.busy()
        if busy is None:
            self.send_comments(comments)
            return
        from .confirm import ConfirmScreen
        self.app.push_screen(ConfirmScreen(
            f"[b]{escape(self.link.name)}[/b] {escape(busy)}: a message typed into a busy agent may be lost.\n\n"
            f"Send {len(comments)} comment(s) anyway?", "Send"),
            lambda yes: yes and self.send_comments(comments))

    @work(thread=True, group="review-send")
    def send_comments(self, comments: list[Comment]) -> None:
        """Deliver the comments as one message and post how it went."""
        assert self.link is not None
        try:
            self.link.send(comments)
        except PaneboardError as exc:
            self.post_message(self.CommentsSent(comments, str(exc)))
            return
        self.post_message(self.CommentsSent(comments))

    @on(CommentsSent)
    def _comments_sent(self, message: CommentsSent) -> None:
        if message.error or self.link is None:
            self.notify(message.error or "no agent", title="Comments not sent", severity="error", markup=False)
            return
        self._change_drafts(self.link.drafts.clear, message.comments)
        self.notify(f"{len(message.comments)} comment(s) sent to {self.link.name}", title="Review", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("comment", "since_review"):
            return self.link is not None
        if action == "send_comments":
            return self.link is not None and bool(self.link.drafts.items)
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        """Leave the review with the tree it showed, so it can be recorded as reviewed."""
        self.dismiss(self.shown_tree)


@dataclass(frozen=True)
class CombineChoice:
    """What to take from the right-hand candidate (whole files, hunks); the rest comes from the left one."""

    left: str
    right: str
    files: tuple[str, ...]
    hunks: dict[str, tuple[str, ...]]


class CompareScreen(FilesDiffScreen):
    """Agent A's result against agent B's, file by file (A is the old side, B the new).

    The reviewer can take, per file (file list focused) or per hunk (diff focused), B's version
    instead of A's, and build the combination as a new stopped agent: it dismisses with a
    `CombineChoice`, or None when left without combining.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("greater_than_sign", "take('right')", "Take right", id="compare.take_right",
                tooltip="Take the right candidate's version of this hunk (diff focused) or file (list focused)"),
        Binding("less_than_sign", "take('left')", "Take left", id="compare.take_left",
                tooltip="Take the left candidate's version of this hunk or file again (the default)"),
        Binding("C", "combine", "Combine", id="compare.combine",
                tooltip="Build TASK-combined from the choices: a stopped agent to review, check and merge"),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | > | Take the right candidate's hunk (diff focused) or file (list focused). |
    | < | Take the left candidate's again. |
    | C | Build the combination as a new stopped agent. |
    """

    def __init__(self, repo: Path, rev_a: str, rev_b: str, label_a: str, label_b: str,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(f"{label_a}  ⇄  {label_b}", name=name, id=id, classes=classes)
        self.repo = Path(repo)
        self.rev_a, self.rev_b = rev_a, rev_b
        self.label_a, self.label_b = label_a, label_b
        self.files_from_right: set[str] = set()
        self.hunks_from_right: dict[str, set[str]] = {}

    def load_changes(self) -> list[FileChange]:
        return changed_between(self.repo, self.rev_a, self.rev_b)

    def load_texts(self, change: FileChange) -> tuple[str, str] | None:
        return blob_texts(self.repo, change)

    def file_shown(self, change: FileChange) -> None:
        self._show_choices()

    @property
    def choice(self) -> CombineChoice:
        """The choices made so far."""
        return CombineChoice(self.label_a, self.label_b, tuple(sorted(self.files_from_right)),
                             {p: tuple(sorted(h)) for p, h in sorted(self.hunks_from_right.items()) if h})

    def action_take(self, side: str) -> None:
        """Take one side's version of the hunk under the diff's cursor, or of the file under the list's."""
        change = self.current_change
        if change is None:
            return
        diff = self.query_one(DiffView)
        hunk = diff.hunk_at_cursor() if diff.has_focus else None
        if hunk is None:
            (self.files_from_right.add if side == "right" else self.files_from_right.discard)(change.path)
            self.hunks_from_right.pop(change.path, None)
        else:
            self.files_from_right.discard(change.path)
            chosen = self.hunks_from_right.setdefault(change.path, set())
            (chosen.add if side == "right" else chosen.discard)(hunk)
        self._show_choices()

    def _show_choices(self) -> None:
        files = self.query_one("#review-files", OptionList)
        for index, change in enumerate(self.changes):
            label = file_label(change)
            hunks = len(self.hunks_from_right.get(change.path, ()))
            if change.path in self.files_from_right:
                label = Content.assemble(label, ("  ▶ right", "bold"))
            elif hunks:
                label = Content.assemble(label, (f"  ▶ {hunks} hunk{'s' if hunks > 1 else ''}", "bold"))
            files.replace_option_prompt_at_index(index, label)
        change = self.current_change
        if change is not None:
            whole = change.path in self.files_from_right
            rows = self.query_one(DiffView).rows
            chosen = {r.left_text or "" for r in rows if r.kind == "hunk"} if whole else \
                self.hunks_from_right.get(change.path, set())
            self.query_one(DiffView).set_hunk_labels({h: f"▶ from {self.label_b}" for h in chosen})
        picked = self.choice
        summary = "" if not (picked.files or picked.hunks) else (
            f"  ·  taking {len(picked.files)} file(s) and {sum(map(len, picked.hunks.values()))} hunk(s) "
            f"from {self.label_b}, the rest from {self.label_a} (C combines)")
        self.query_one("#review-title", Static).update(Content(f"{self.review_title}{summary}"))
        self.refresh_bindings()

    def action_combine(self) -> None:
        """Leave with the choices, for the caller to build the combination."""
        self.dismiss(self.choice)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "combine":
            return bool(self.files_from_right or any(self.hunks_from_right.values()))
        if action == "take":
            return self.current_change is not None
        return super().check_action(action, parameters)
