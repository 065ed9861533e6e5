"""Install the pinned agent CLIs into the cache the live tests use (idempotent: what is there stays).

    python -m tests.live.install        # from the repository root; .ci/run calls it with a timeout

Layout (tests/live/versions.py): `npm/` is an npm prefix holding every npm CLI
(`npm/node_modules/.bin/{claude,codex,gemini,opencode}`), `aider/` a venv with aider-chat; `npm.log` and
`aider.log` end with `rc=N`. A registry that does not answer leaves that CLI missing: its tests skip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.live.versions import NPM, PYPI, cache_dir


def npm_installed(root: Path, package: str, version: str) -> bool:
    """True if the npm prefix already holds this package at this version."""
    try:
        meta = json.loads((root / "node_modules" / package / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("version") == version


def pypi_installed(venv: Path, package: str, version: str) -> bool:
    """True if the venv already holds this distribution at this version."""
    name = package.replace("-", "_")
    return any(venv.glob(f"lib/python*/site-packages/{name}-{version}.dist-info"))


def _run(argv: list[str], log: Path) -> int:
    with log.open("w", encoding="utf-8") as out:
        out.write("$ " + " ".join(argv) + "\n")
        out.flush()
        try:
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        except OSError as exc:
            out.write(f"{exc}\n")
            rc = 127
        out.write(f"rc={rc}\n")
    return rc


def install_npm(root: Path) -> int:
    """Install the npm CLIs that are missing or at another version into one prefix."""
    wanted = [f"{pkg}@{ver}" for pkg, ver in NPM.values() if not npm_installed(root, pkg, ver)]
    if not wanted:
        return 0
    root.mkdir(parents=True, exist_ok=True)
    return _run(["npm", "install", "--prefix", str(root), "--no-audit", "--no-fund", *wanted],
                root.parent / "npm.log")


def install_pypi(cli: str, venv: Path) -> int:
    """Install a PyPI CLI into its own venv, unless it is there at the pinned version."""
    package, version = PYPI[cli]
    if pypi_installed(venv, package, version):
        return 0
    log = venv.parent / f"{cli}.log"
    if not (venv / "bin" / "python").exists():
        rc = _run([sys.executable, "-m", "venv", str(venv)], log)
        if rc:
            return rc
    return _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{package}=={version}"], log)


def main() -> int:
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    failed = []
    if install_npm(root / "npm"):
        failed.append("npm CLIs (see npm.log)")
    for cli in PYPI:
        if install_pypi(cli, root / cli):
            failed.append(f"{cli} (see {cli}.log)")
    if failed:
        print(f"agent CLIs not installed in {root}: {', '.join(failed)}; their live tests will skip")
        return 1
    print(f"agent CLIs ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
