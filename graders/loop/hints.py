"""``python -m graders hint EXERCISE [CHECK]``: the catalogue's hints, on demand, one level at a time.

A hint that gives everything away at once teaches less than one that nudges, so a check's hints come
in levels, revealed one more at each call (``--all`` shows them all): first the check's own hint,
then what the last grading observed when it failed the check and the hint for that cause, then the
other mistakes the exercise's checks recognise (its causes table). Nothing is graded: the observed
cause comes from the last grading pytest kept (graders.report.history). How far each check's hints
have been revealed is kept beside those gradings, in ``.graders/hints.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from graders.grading import catalog
from graders.loop import text, workspace
from graders.loop.workspace import Workspace
from graders.report.model import ExerciseResult, Status

STATE_FILE = Path(".graders") / "hints.json"


@dataclass(frozen=True)
class Level:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)

    def lines(self, number: int, count: int) -> list[str]:
        lines = [f"Hint {number} of {count}{', ' + self.title if self.title else ''}:"]
        lines += [text.wrap(paragraph) for paragraph in self.paragraphs]
        lines += [text.wrap(bullet, indent="    ", first="  - ") for bullet in self.bullets]
        return lines


def levels(exercise: catalog.Exercise, check: str, result: ExerciseResult | None) -> list[Level]:
    """The check's hints, most general first; the observed cause, when there is one, before the others."""
    own = exercise.hints.get(check, "")
    found = [Level("", [own or f"{check} has no hint of its own in the catalogue."])]
    shown = {own}
    graded = result.check(check) if result is not None else None
    observed = None
    if graded is not None and not graded.status.earns:
        observed = graded.cause
        paragraphs = [f"The last grading said: {graded.message}" if graded.message else f"The last grading {graded.status.value} this check."]
        if graded.status is Status.INCONCLUSIVE:
            paragraphs.append("The machine was too busy to measure: grade the exercise again when it is quieter.")
        cause_hint = workspace.hint_of(exercise, graded)
        if cause_hint and cause_hint not in shown:
            paragraphs.append(f"The hint for what it saw: {cause_hint}")
            shown.add(cause_hint)
        found.append(Level("from what your last grading observed", paragraphs))
    others = [hint for cause, hint in exercise.causes.items() if cause != observed and hint not in shown]
    if others:
        found.append(Level(f"other mistakes the checks of {exercise.name} recognise, each with its hint", bullets=others))
    return found


def _load(root: Path) -> dict:
    try:
        data = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save(root: Path, state: dict) -> None:
    try:
        path = root / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only project: every call then shows the first level again


def _status_line(exercise: catalog.Exercise, check: str, result: ExerciseResult | None) -> str:
    graded = result.check(check) if result is not None else None
    if graded is None:
        return f"{exercise.name}, check {check}: not graded yet."
    return f"{exercise.name}, check {check}: {graded.status.value} in the last grading ({text.points(graded.earned, graded.points)} points)."


def for_check(space: Workspace, exercise: catalog.Exercise, check: str, show_all: bool = False) -> str:
    """The check's hints up to the next level not shown yet (all of them with ``show_all``)."""
    result = space.last().get(exercise.name)
    check = workspace.check(exercise, check, result)
    found = levels(exercise, check, result)
    state = _load(space.root)
    key = f"{exercise.name}/{check}"
    seen = state.get(key, 0) if isinstance(state.get(key, 0), int) else 0
    shown = len(found) if show_all else min(seen + 1, len(found))
    state[key] = max(seen, shown)
    _save(space.root, state)
    lines = [_status_line(exercise, check, result), ""]
    for number, level in enumerate(found[:shown], start=1):
        lines += [*level.lines(number, len(found)), ""]
    left = len(found) - shown
    if left:
        lines.append(f"{left} more hint{'s' if left > 1 else ''}: run the same command again for the next, or add --all to see them all.")
    return "\n".join(lines).rstrip()


def for_exercise(space: Workspace, exercise: catalog.Exercise) -> str:
    """Every check of the exercise with its hint on one line, the failing ones marked."""
    result = space.last().get(exercise.name)
    lines = [f"{exercise.name} — {exercise.title}"]
    if result is None:
        lines.append("Not graded yet: these are the checks' own hints.")
    else:
        failing = len(result.failing())
        lines.append(f"Last grading: {text.points(result.earned, result.total)} points, {failing} check{'s' if failing != 1 else ''} failing.")
    lines.append("")
    names = workspace.checks(exercise, result)
    name_width = max(len(name) for name in names)
    status_width = 12 if result is not None else 0
    for name in names:
        graded = result.check(name) if result is not None else None
        status = "" if graded is None else (graded.status.value.upper() if not graded.status.earns else graded.status.value)
        prefix = f"  {status:<{status_width}} {name:<{name_width}}  " if status_width else f"  {name:<{name_width}}  "
        lines.append(prefix + text.shorten(exercise.hints.get(name, ""), text.width() - len(prefix)))
    lines += ["", f"`python -m graders hint {exercise.name} CHECK` shows a check's whole hint, and more at each call."]
    return "\n".join(lines)
