"""Building a learner submission from the reference solution and a gallery entry."""
from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def submission(root: Path, exercise: str, overlay: Path | None = None) -> Path:
    """A copy of the reference solution of ``exercise`` in ``root``, with ``overlay``'s modules on top.

    An overlay module is appended to the solution module of the same name: what it defines replaces
    the solution's definitions, so a gallery entry holds only what is wrong (a complete module works too).
    """
    folder = root / exercise
    shutil.copytree(PROJECT / "solutions" / exercise, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if overlay is not None:
        for module in overlay.glob("*.py"):
            target = folder / module.name
            base = target.read_text(encoding="utf-8") + "\n\n" if target.exists() else ""
            target.write_text(base + module.read_text(encoding="utf-8"), encoding="utf-8")
    return folder
