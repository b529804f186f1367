"""What a grading run found, as types: a status per check, checks per graded folder, one run.

Written to JSON and read back by the same code (:meth:`GradingResults.write`,
:meth:`GradingResults.read`), so a reader never re-parses a dict by hand. Imports nothing from
pytest or the grading side: the notebook cells, the class grader and the benchmark read it too.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

SCHEMA = 2


class Status(str, Enum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"
    # Not applicable where it ran (one usable core: no speedup to measure); its points are given.
    SKIPPED = "skipped"
    # The machine was too busy to judge speed: neither earned nor failed; grade it again.
    INCONCLUSIVE = "inconclusive"

    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def earns(self) -> bool:
        return self in (Status.PASSED, Status.SKIPPED)


@dataclass
class CheckResult:
    name: str
    points: float
    status: Status
    message: str = ""
    # What the check observed when it failed (graders.grading.feedback.fail): it chose the hint.
    cause: str | None = None
    hint: str = ""

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def earned(self) -> float:
        return self.points if self.status.earns else 0.0


class FolderStatus(str, Enum):
    """A graded folder as a whole: every check judged, or some left to grade again."""

    GRADED = "graded"
    INCONCLUSIVE = "inconclusive"

    __str__ = str.__str__
    __format__ = str.__format__


@dataclass
class ExerciseResult:
    """One exercise graded on one folder."""

    exercise: str
    folder: str
    checks: list[CheckResult] = field(default_factory=list)
    # Each timed speed check's figures (graders.grading.speed.SpeedMeasurement.as_dict).
    speed: list[dict] = field(default_factory=list)
    measurements: list[str] = field(default_factory=list)

    @property
    def earned(self) -> float:
        return sum(check.earned for check in self.checks)

    @property
    def total(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def status(self) -> FolderStatus:
        if any(check.status is Status.INCONCLUSIVE for check in self.checks):
            return FolderStatus.INCONCLUSIVE
        return FolderStatus.GRADED

    def check(self, name: str) -> CheckResult | None:
        return next((check for check in self.checks if check.name == name), None)

    def failing(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.status.earns]


@dataclass
class GradingResults:
    """One grading run: its settings, every exercise folder it graded, how long it took."""

    exercises: list[ExerciseResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # False when the run stopped early (pytest -x, a keyboard interrupt, a check selection): the
    # totals are then those of the checks that ran, not a score.
    complete: bool = True

    @property
    def earned(self) -> float:
        return sum(e.earned for e in self.exercises)

    @property
    def total(self) -> float:
        return sum(e.total for e in self.exercises)

    def exercise(self, name: str, folder: str | None = None) -> ExerciseResult | None:
        return next((e for e in self.exercises if e.exercise == name and (folder is None or e.folder == folder)), None)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["schema"] = SCHEMA
        data["earned"], data["total"] = self.earned, self.total
        for entry, exercise in zip(data["exercises"], self.exercises):
            entry["earned"], entry["total"], entry["status"] = exercise.earned, exercise.total, exercise.status.value
            for check, result in zip(entry["checks"], exercise.checks):
                check["status"] = result.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GradingResults":
        if data.get("schema") != SCHEMA:
            raise ValueError(f"a grading report of schema {data.get('schema')!r}; this grader reads schema {SCHEMA}")
        return cls(
            exercises=[
                ExerciseResult(
                    **{**_known(ExerciseResult, entry), "checks": [CheckResult(**_known(CheckResult, c)) for c in entry["checks"]]}
                )
                for entry in data["exercises"]
            ],
            settings=dict(data.get("settings", {})),
            seconds=float(data.get("seconds", 0.0)),
            complete=bool(data.get("complete", True)),
        )

    def write(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> "GradingResults":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _known(kind, data: dict) -> dict:
    names = {f.name for f in fields(kind)}
    return {key: value for key, value in data.items() if key in names}
