"""``python -m graders progress``: where the learner stands, read from the last gradings, and what to do next.

Nothing is graded again: every pytest run that grades a whole exercise keeps its result
(graders.report.history), so this answers at once, even for exercises whose grading takes minutes.
The "Next" line points at the first exercise, in the order of their numbers, that is not finished yet, and
at its first failing check with the hint its grading chose, so the learner always has one thing to do.
"""
from __future__ import annotations

from dataclasses import dataclass

from graders.grading import catalog
from graders.loop import text
from graders.loop.workspace import Workspace, hint_of
from graders.report.model import ExerciseResult, Status

NOT_GRADED = "not graded yet"
NO_FOLDER = "no folder"


@dataclass(frozen=True)
class Row:
    exercise: catalog.Exercise
    result: ExerciseResult | None
    has_folder: bool

    @property
    def points(self) -> str:
        if self.result is not None:
            return text.points(self.result.earned, self.result.total)
        return NOT_GRADED if self.has_folder else NO_FOLDER

    @property
    def failing(self) -> list[str]:
        if self.result is None:
            return []
        return [check.name + ("?" if check.status is Status.INCONCLUSIVE else "") for check in self.result.failing()]

    @property
    def finished(self) -> bool:
        return self.result is not None and not self.result.failing()


def rows(space: Workspace) -> list[Row]:
    last = space.last()
    return [
        Row(exercise, last.get(name), exercise.folder_in(space.tree).is_dir())
        for name, exercise in sorted(catalog.exercises().items())
    ]


def table(rows: list[Row]) -> list[str]:
    """The table's lines, fitted to the terminal: the title and the failing checks are cut to fit."""
    headers = ("exercise", "title", "points", "failing checks")
    name_width = max(len(headers[0]), *(len(row.exercise.name) for row in rows))
    points_width = max(len(headers[2]), *(len(row.points) for row in rows))
    room = text.width() - name_width - points_width - 6
    title_width = max(16, min(44, room * 2 // 5, max(len(row.exercise.title) for row in rows)))
    failing_width = max(len(headers[3]), room - title_width)
    lines = [f"{headers[0]:<{name_width}}  {headers[1]:<{title_width}}  {headers[2]:<{points_width}}  {headers[3]}"]
    lines.append("-" * min(text.width(), len(lines[0]) + failing_width - len(headers[3])))
    for row in rows:
        failing = text.names(row.failing, failing_width) if row.failing else ("-" if row.finished else "")
        line = f"{row.exercise.name:<{name_width}}  {text.shorten(row.exercise.title, title_width):<{title_width}}  {row.points:<{points_width}}  {failing}"
        lines.append(line.rstrip())
    return lines


def next_step(rows: list[Row], space: Workspace) -> str:
    """One line: the first unfinished exercise and what to do about it."""
    for row in rows:
        if not row.has_folder or row.finished:
            continue
        name = row.exercise.name
        if row.result is None:
            folder = space.display(row.exercise.folder_in(space.tree))
            return f"Next: {name} — {NOT_GRADED}: grade it with `python -m pytest {folder}` (or `python -m graders watch {name}`)."
        first = row.result.failing()[0]
        if first.status is Status.INCONCLUSIVE:
            return f"Next: {name} — {first.name}: the machine was too busy to measure it; grade the exercise again."
        return f"Next: {name} — {first.name}: {hint_of(row.exercise, first)}"
    if any(row.has_folder for row in rows):
        return "Next: nothing — every exercise in this tree passes all its checks."
    return "Next: no exercise folder found in this tree."


def report(space: Workspace) -> str:
    found = rows(space)
    graded = [row for row in found if row.result is not None]
    lines = [f"Progress in {space.display(space.tree)}, from the last grading of each exercise (nothing is graded again):", ""]
    lines += table(found)
    lines.append("")
    earned = sum(row.result.earned for row in graded)
    total = sum(row.result.total for row in graded)
    lines.append(f"Total: {text.points(earned, total)} points, {len(graded)} of {len(found)} exercises graded.")
    if any(name.endswith("?") for row in found for name in row.failing):
        lines.append("A check marked ? was inconclusive: the machine was too busy to measure it; grade the exercise again.")
    lines.append(next_step(found, space))
    return "\n".join(lines)
