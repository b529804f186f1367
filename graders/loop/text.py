"""Plain text for a terminal: the width to fit, long lines cut or wrapped, a points total.

The loop's commands print to a learner's terminal (or a pipe, in tests and editors): no colours and
no cursor tricks beyond clearing the screen in ``watch``, so the same text reads well everywhere.
"""
from __future__ import annotations

import shutil
import textwrap

ELLIPSIS = "…"


def width() -> int:
    """The terminal's width (``$COLUMNS`` when set, 100 for a pipe), never below 60."""
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis when longer."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def names(items: list[str], limit: int) -> str:
    """As many of ``items`` as fit in ``limit`` characters, then "+N more"."""
    shown: list[str] = []
    for index, item in enumerate(items):
        rest = len(items) - index - 1
        candidate = ", ".join([*shown, item]) + (f", +{rest} more" if rest else "")
        if len(candidate) > limit and shown:
            return ", ".join(shown) + f", +{len(items) - index} more"
        shown.append(item)
    return ", ".join(shown)


def wrap(text: str, indent: str = "  ", first: str | None = None) -> str:
    """``text`` wrapped to the terminal, every line indented (the first by ``first`` if given)."""
    return textwrap.fill(
        text.strip(), width=width(), initial_indent=indent if first is None else first,
        subsequent_indent=indent, break_long_words=False, break_on_hyphens=False,
    )


def points(earned: float, total: float) -> str:
    return f"{earned:g}/{total:g}"
