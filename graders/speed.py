"""Speedup checks that neither fail correct code on a busy machine nor pass slow code on a quiet one.

Serial baseline, the learner's version and the grader's own reference version are timed in
interleaved rounds and the best time of each is kept. The learner passes at the required speedup.
When the learner falls short but the reference reaches it in the same rounds, the learner's code
is too slow; when the reference falls short too, the machine was too busy to judge and the check
says so ("inconclusive") rather than blaming the learner.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import pytest

from graders.feedback import fail

if TYPE_CHECKING:
    from graders.evidence import ParallelEvidence

MIN_ROUNDS = 2
WARM_UP = "graders.reference:warm_up"


@dataclass
class SpeedMeasurement:
    what: str
    required: float
    serial: list[float] = field(default_factory=list)
    learner: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    # learner / reference seconds of each round that timed both: adjacent in time, so a slow spell of
    # the machine slows both and leaves the ratio alone.
    paired: list[float] = field(default_factory=list)

    @property
    def learner_speedup(self) -> float:
        return min(self.serial) / min(self.learner)

    @property
    def reference_speedup(self) -> float | None:
        return min(self.serial) / min(self.reference) if self.reference else None

    @property
    def consistently_slower(self) -> bool:
        """The reference beat the learner clearly in every one of at least PAIRED_ROUNDS rounds."""
        return len(self.paired) >= PAIRED_ROUNDS and min(self.paired) >= CLEAR_MARGIN

    def as_dict(self) -> dict:
        return {
            "what": self.what,
            "required": self.required,
            "speedup": self.learner_speedup,
            "reference_speedup": self.reference_speedup,
            "serial_s": min(self.serial),
            "learner_s": min(self.learner),
            "rounds": len(self.serial),
            "learner_vs_reference": self.paired,
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

    def paired_figures(self) -> str:
        ratios = ", ".join(f"{ratio:.2f}x" for ratio in self.paired)
        return f"in each of the {len(self.paired)} rounds that timed both, yours took {ratios} the reference's time"


# run_round(index, with_reference) -> (serial, learner, reference or None) seconds, in an order that
# varies with index.
Round = Callable[[int, bool], tuple[float, float, "float | None"]]

# This machine's single-core speed drifts by up to 2x within seconds (other tenants), so one lucky
# reference round beside unlucky learner rounds proved nothing (a CI run failed a correct solution
# that way). A failure needs the learner clearly slower than the reference in several rounds that
# timed both side by side.
PAIRED_ROUNDS = 3
# How much slower than the reference, in each of those rounds, before the learner's code is blamed.
CLEAR_MARGIN = 1.2


def rounds_needed(max_rounds: int) -> int:
    return max(max_rounds, MIN_ROUNDS + PAIRED_ROUNDS)


def measure(what: str, required: float, run_round: Round, max_rounds: int) -> SpeedMeasurement:
    """Best-of rounds of serial vs learner; the reference joins only once the learner falls short.

    A correct solution usually passes after MIN_ROUNDS pairs; one that falls short gets further
    rounds that also time the reference, which then tells a busy machine from slow code.
    """
    measurement = SpeedMeasurement(what, required)
    for index in range(rounds_needed(max_rounds)):
        serial, learner, reference = run_round(index, index >= MIN_ROUNDS)
        measurement.serial.append(serial)
        measurement.learner.append(learner)
        if reference is not None:
            measurement.reference.append(reference)
            measurement.paired.append(learner / reference)
        if index + 1 < MIN_ROUNDS:
            continue
        if measurement.learner_speedup >= required or measurement.consistently_slower:
            break
    return measurement


def judge(measurement: SpeedMeasurement) -> None:
    if measurement.learner_speedup >= measurement.required:
        return
    reference = measurement.reference_speedup
    if reference is None or reference < measurement.required or not measurement.consistently_slower:
        pytest.skip(
            f"inconclusive: the machine was too busy to judge speed: the grader's own reference did "
            f"not clearly beat your code round after round. {measurement.figures()}. Re-run when the "
            "machine is quieter."
        )
    fail(f"too slow: {measurement.figures()}; {measurement.paired_figures()}")


def check(
    target,
    module: str,
    calls: dict,
    what: str,
    compare: Callable[[dict], "str | None"],
    parallel: "tuple[ParallelEvidence, str]",
    **run_options,
) -> None:
    """The whole speed check of one exercise part.

    ``calls`` maps "serial", "learner" and "reference" to the calls to time in ``module``;
    ``compare(values)`` looks at the first round's values and returns what is wrong with the
    learner's result on the timed input, if anything. ``parallel`` is the evidence of the traced
    run and the task it traced: code that never ran the task in two processes at once gets no
    speedup credited, since any it showed would be the machine's noise.
    """
    from graders.calls import Call
    from graders.evidence import explain
    from graders.feedback import value_of

    cores = target.settings.usable_cores
    if cores < 2:
        pytest.skip("only 1 usable core: a speedup cannot be measured here, so the structural checks decide alone")
    evidence, task = parallel
    if not evidence.is_parallel:
        function = calls["learner"].function
        fail(
            f"too slow: no speedup can be credited to {function}, because in the traced run "
            f"{explain(evidence, task, function)}; work that never runs in two "
            "processes at once cannot beat the serial loop, so this was not timed (make the parallel "
            "check pass first)"
        )

    def run_round(index: int, with_reference: bool) -> tuple[float, float, float | None]:
        order = rotated([name for name in calls if with_reference or name != "reference"], index)
        warm_up = Call(WARM_UP, (cores,), label="the grader's warm-up pool")
        run = target.run(module, [warm_up] + [calls[name] for name in order], **run_options)
        value_of(run.outcomes[0], warm_up.describe(), module)
        outcomes = dict(zip(order, run.outcomes[1:]))
        values = {name: value_of(o, calls[name].describe(), module) for name, o in outcomes.items()}
        if index == 0:
            problem = compare(values)
            if problem:
                fail(f"on the larger timed input, {calls['learner'].describe()}: {problem}")
        reference = outcomes["reference"].seconds if with_reference else None
        return outcomes["serial"].seconds, outcomes["learner"].seconds, reference

    measurement = measure(what, target.settings.required_speedup(cores), run_round, target.settings.speed_rounds)
    target.record_speed(measurement)
    judge(measurement)


def rotated(items: list, index: int) -> list:
    shift = index % len(items)
    return items[shift:] + items[:shift]
