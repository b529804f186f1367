"""``python -m graders class ...``: grading a whole class (being written)."""
from __future__ import annotations


def register(commands) -> None:
    pass
