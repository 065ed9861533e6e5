"""paneboard's themes: Textual Theme objects; every colour paneboard uses is defined here.

Status and trigger colours are theme variables (`$status-working`, `$trigger-loud`...),
so widgets and CSS never name a colour themselves. User themes are YAML files in
`<user config dir>/paneboard/themes/*.yaml` with the same keys as a Textual Theme.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from textual.theme import Theme

STATUS_KINDS = ("starting", "working", "needs_input", "idle", "silent", "error", "exited", "queued", "merged", "missing",
                "unreachable")


def _status_vars(**colours: str) -> dict[str, str]:
    return {f"status-{k.replace('_', '-')}": v for k, v in colours.items()}


DARK = Theme(
    name="paneboard-dark",
    primary="#5fafff",
    secondary="#af87ff",
    accent="#ffaf5f",
    warning="#ffd75f",
    error="#ff5f5f",
    success="#87d787",
    foreground="#e4e4e4",
    background="#121417",
    surface="#1b1e23",
    panel="#242830",
    dark=True,
    variables={
        **_status_vars(starting="#8a8f98", working="#5fafff", needs_input="#ffd75f", idle="#87d787",
                       silent="#ff9f43", error="#ff5f5f", exited="#8a8f98", queued="#6c7380",
                       merged="#af87ff", missing="#ff5f87", unreachable="#ff9f43"),
        "trigger-loud": "#ff5f5f",
        "trigger-quiet": "#ffd75f",
        "conflict": "#ff5f87",
        "diff-added-bg": "#1f3a26",
        "diff-removed-bg": "#43212a",
        "footer-key-foreground": "#5fafff",
    },
)

LIGHT = Theme(
    name="paneboard-light",
    primary="#0060c0",
    secondary="#7040c0",
    accent="#c06000",
    warning="#a06800",
    error="#c01c28",
    success="#1a7f37",
    foreground="#1f2328",
    background="#fbfbfb",
    surface="#f0f1f3",
    panel="#e4e6ea",
    dark=False,
    variables={
        **_status_vars(starting="#6e7781", working="#0060c0", needs_input="#9a6700", idle="#1a7f37",
                       silent="#bc4c00", error="#c01c28", exited="#6e7781", queued="#8c959f",
                       merged="#7040c0", missing="#bf3989", unreachable="#bc4c00"),
        "trigger-loud": "#c01c28",
        "trigger-quiet": "#9a6700",
        "conflict": "#bf3989",
        "diff-added-bg": "#dafbe1",
        "diff-removed-bg": "#ffebe9",
        "footer-key-foreground": "#0060c0",
    },
)

BUILTIN = (DARK, LIGHT)


def css_path() -> Path:
    """The app stylesheet shipped with the package."""
    return Path(str(resources.files(__package__) / "paneboard.tcss"))


def user_themes(config_dir: Path | None = None) -> list[Theme]:
    """Themes from the user's config dir; a broken file is skipped, never fatal."""
    import yaml
    if config_dir is None:
        from platformdirs import user_config_dir
        config_dir = Path(user_config_dir("paneboard"))
    themes = []
    for path in sorted((config_dir / "themes").glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            base = DARK if data.get("dark", True) else LIGHT
            variables = {**base.variables, **(data.pop("variables", None) or {})}
            themes.append(Theme(**{**data, "variables": variables}))
        except Exception:  # noqa: BLE001 - a user's broken theme must not stop the app
            continue
    return themes
