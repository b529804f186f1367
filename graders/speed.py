"""Speedup checks that neither fail correct code on a busy machine nor pass slow code on a quiet one.

Serial baseline, the learner's version and the grader's own reference version are timed in
interleaved rounds and the best time of each is kept. The learner passes at the required speedup.
When the learner falls short but the reference reaches it in the same rounds, the learner's code
is too slow; when the reference falls short too, the machine was too busy to judge and the check
says so ("inconclusive") rather than blaming the learner.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from graders.feedback import fail

MIN_ROUNDS = 2


@dataclass
class SpeedMeasurement:
    what: str
    required: float
    serial: list[float] = field(default_factory=list)
    learner: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    @property
    def learner_speedup(self) -> float:
        return min(self.serial) / min(self.learner)

    @property
    def reference_speedup(self) -> float | None:
        return min(self.serial) / min(self.reference) if self.reference else None

    def as_dict(self) -> dict:
        return {
            "what": self.what,
            "required": self.required,
            "speedup": self.learner_speedup,
            "reference_speedup": self.reference_speedup,
            "serial_s": min(self.serial),
            "learner_s": min(self.learner),
            "rounds": len(self.serial),
        }

    def figures(self) -> str:
        reference = (
            f", reference {min(self.reference):.3f} s = {self.reference_speedup:.2f}x" if self.reference else ""
        )
        return (
            f"{self.what}: speedup {self.learner_speedup:.2f}x (required {self.required:.2f}x; "
            f"best of {len(self.serial)} rounds: serial {min(self.serial):.3f} s, yours "
            f"{min(self.learner):.3f} s{reference})"
        )


# run_round(index, with_reference) -> (serial, learner, reference or None) seconds, in an order that
# varies with index.
Round = Callable[[int, bool], tuple[float, float, "float | None"]]


def measure(what: str, required: float, run_round: Round, max_rounds: int) -> SpeedMeasurement:
    """Best-of rounds of serial vs learner; the reference joins only once the learner falls short.

    A correct solution usually passes after MIN_ROUNDS pairs; one that falls short gets further
    rounds that also time the reference, which then tells a busy machine from slow code.
    """
    measurement = SpeedMeasurement(what, required)
    for index in range(max(max_rounds, MIN_ROUNDS + 1)):
        serial, learner, reference = run_round(index, index >= MIN_ROUNDS)
        measurement.serial.append(serial)
        measurement.learner.append(learner)
        if reference is not None:
            measurement.reference.append(reference)
        if index + 1 < MIN_ROUNDS:
            continue
        if measurement.learner_speedup >= required:
            break
        if measurement.reference:
            clearly_slow = measurement.learner_speedup < 0.8 * required <= 0.8 * measurement.reference_speedup
            if clearly_slow:
                break
    return measurement


def judge(measurement: SpeedMeasurement) -> None:
    if measurement.learner_speedup >= measurement.required:
        return
    if measurement.reference_speedup is None or measurement.reference_speedup < measurement.required:
        pytest.skip(
            f"inconclusive: the machine was too busy to judge speed, the grader's own reference "
            f"reached only {measurement.reference_speedup:.2f}x too. {measurement.figures()}. Re-run "
            "when the machine is quieter."
        )
    fail(f"too slow: {measurement.figures()}")


def rotated(items: list, index: int) -> list:
    shift = index % len(items)
    return items[shift:] + items[:shift]
