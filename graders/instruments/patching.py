"""Temporary replacements of library attributes, all put back on exit."""
from __future__ import annotations


class Patches:
    """Base of the context managers that watch learner code by patching what it calls."""

    def __init__(self) -> None:
        self._saved: list[tuple[object, str, object]] = []

    def _replace(self, owner, name: str, replacement) -> None:
        # A class's own entry keeps its descriptor (a staticmethod stays one when put back).
        own = isinstance(owner, type) and name in vars(owner)
        self._saved.append((owner, name, vars(owner)[name] if own else getattr(owner, name)))
        setattr(owner, name, replacement)

    def __exit__(self, *exc_info) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()
