"""Regenerate the README's key table from the bindings: `python -m app.docs`."""

from __future__ import annotations

from pathlib import Path

START, END = "<!-- keys:start -->", "<!-- keys:end -->"


def main() -> None:
    from .dashboard import key_table_markdown
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    table = key_table_markdown().replace("# Keys\n\n", "").strip()
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
