"""Gradescope's ``results.json``, from the grading model.

Follows Gradescope's autograder specification: a top-level ``score`` (the same total the terminal
summary prints), ``execution_time`` in whole seconds, ``output`` for the whole submission, and one
entry per check under ``tests`` with ``name``, ``score``, ``max_score``, ``status`` ("passed" or
"failed": the only two the format knows), ``output`` and ``visibility``. A check the machine was too
busy to judge scores 0 and says so in its output, and the submission's output asks for a regrade.
"""
from __future__ import annotations

import json
from pathlib import Path

from graders.report.model import FolderStatus, GradingResults, Status


def results_json(results: GradingResults, visibility: str = "visible") -> dict:
    tests = []
    for exercise in results.exercises:
        for check in exercise.checks:
            tests.append({
                "name": f"{exercise.exercise}: {check.name}" if len(results.exercises) > 1 else check.name,
                "score": check.earned,
                "max_score": check.points,
                "status": "passed" if check.status.earns else "failed",
                "output": _check_output(check),
                "visibility": visibility,
                "extra_data": {"exercise": exercise.exercise, "status": check.status.value, "cause": check.cause},
            })
    return {
        "score": results.earned,
        "execution_time": round(results.seconds),
        "output": _summary(results),
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _check_output(check) -> str:
    if check.status is Status.PASSED:
        return "passed"
    if check.status is Status.SKIPPED:
        return f"not applicable here, points given: {check.message}"
    if check.status is Status.INCONCLUSIVE:
        return f"inconclusive: the machine was too busy to judge speed; this check will be graded again. {check.message}"
    return check.message + (f"\nHint: {check.hint}" if check.hint else "")


def _summary(results: GradingResults) -> str:
    lines = [f"{e.exercise}: {e.earned:g}/{e.total:g} points" for e in results.exercises]
    if any(e.status is FolderStatus.INCONCLUSIVE for e in results.exercises):
        lines.append("Some speed checks were inconclusive (the grading machine was too busy): they will be graded again.")
    if not results.complete:
        lines.append("The grading stopped early: these totals cover only the checks that ran.")
    return "\n".join(lines)


def write(results: GradingResults, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_json(results), indent=2), encoding="utf-8")
