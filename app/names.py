"""Turning user-chosen names into safe slugs for branches, paths and tmux windows."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def slugify(name: str, max_len: int = 48) -> str:
    """A lowercase ASCII slug safe in a branch name, a path component and a tmux target.

    Different names that fold to the same text (or to nothing) get a short hash so
    they stay distinct and never empty.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    slug = _UNSAFE.sub("-", folded)
    slug = re.sub(r"[-.]{2,}", "-", slug).strip("-.")
    # git refuses components ending in ".lock"; tmux treats ':' and '.' in targets specially.
    slug = slug.replace(".", "-")
    slug = slug[:max_len].strip("-")
    if slug != name:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
        slug = f"{slug}-{digest}" if slug else f"agent-{digest}"
    return slug
