"""The last grading of each exercise folder, kept so ``python -m graders progress`` needs no regrading.

Every pytest run that grades a folder saves that folder's :class:`~graders.report.model.ExerciseResult`
under ``.graders/last/`` in the project (pytest's rootdir), one JSON file per exercise and tree
(``exercises``, ``solutions`` or a submission folder's name), replacing the previous one only when the
run graded the whole exercise: a run of one check, or one stopped by ``-x``, is not a score.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from graders.report.model import ExerciseResult, GradingResults

FOLDER = Path(".graders") / "last"


def _file(root: Path, exercise: str, folder: str) -> Path:
    digest = hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:8]
    return Path(root) / FOLDER / f"{exercise}-{Path(folder).parent.name}-{digest}.json"


def save(root: Path, results: GradingResults) -> list[Path]:
    """Keep each exercise result of a complete run; returns the files written."""
    if not results.complete:
        return []
    written = []
    for exercise in results.exercises:
        path = _file(root, exercise.exercise, exercise.folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = GradingResults([exercise], dict(results.settings), results.seconds, True).to_dict()
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        written.append(path)
    return written


def last(root: Path, folder: Path | None = None) -> dict[str, ExerciseResult]:
    """The newest saved result of each exercise (of ``folder``'s exercises only, if given)."""
    found: dict[str, tuple[float, ExerciseResult]] = {}
    for path in sorted((Path(root) / FOLDER).glob("*.json")):
        try:
            results = GradingResults.read(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for exercise in results.exercises:
            if folder is not None and Path(exercise.folder).resolve().parent != Path(folder).resolve():
                continue
            stamp = path.stat().st_mtime
            if exercise.exercise not in found or found[exercise.exercise][0] < stamp:
                found[exercise.exercise] = (stamp, exercise)
    return {name: result for name, (_, result) in sorted(found.items())}
