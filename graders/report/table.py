"""A CSV table from the grading model: one row per graded folder, one column per check.

The class grader (``python -m graders class grade``) writes the same rows, one per learner, so an
instructor's spreadsheet reads both. A check column holds the points earned; a check that did not
run in that folder is left empty.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from graders.report.model import ExerciseResult

FIXED = ["exercise", "folder", "earned", "total", "status"]


def rows(results: Iterable[ExerciseResult], extra: dict[str, dict] | None = None) -> tuple[list[str], list[dict]]:
    """The header and the rows; ``extra`` adds columns per folder (say a learner's name), first, and
    overrides a fixed column it names (the class grader's status: crashed, timed out)."""
    results = list(results)
    checks: list[str] = []
    for exercise in results:
        checks += [c.name for c in exercise.checks if c.name not in checks]
    extra_columns: list[str] = []
    for values in (extra or {}).values():
        extra_columns += [k for k in values if k not in extra_columns and k not in FIXED]
    table = []
    for exercise in results:
        row = {"exercise": exercise.exercise, "folder": exercise.folder, "earned": f"{exercise.earned:g}",
               "total": f"{exercise.total:g}", "status": exercise.status.value}
        row.update((extra or {}).get(exercise.folder, {}))
        row.update({c.name: f"{c.earned:g}" for c in exercise.checks})
        table.append(row)
    return extra_columns + FIXED + checks, table


def write(results: Iterable[ExerciseResult], path: Path, extra: dict[str, dict] | None = None) -> None:
    header, table = rows(results, extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(table)
