"""The speed verdict, on scripted measurements: pass, fail for slow code, inconclusive for a busy machine."""
from __future__ import annotations

import pytest

from graders.grading import speed
from graders.grading.feedback import Inconclusive


def scripted(rounds):
    """A run_round that replays (serial, learner, reference) seconds and records what was asked."""
    asked = []

    def run_round(index, with_reference):
        asked.append(with_reference)
        serial, learner, reference = rounds[min(index, len(rounds) - 1)]
        return serial, learner, reference if with_reference else None

    return run_round, asked


def test_a_fast_solution_passes_after_the_minimum_rounds_without_the_reference():
    run_round, asked = scripted([(1.0, 0.6, 0.6)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=4)
    assert asked == [False] * speed.MIN_ROUNDS
    speed.judge(measurement)


def test_best_times_decide_not_a_single_noisy_round():
    run_round, _ = scripted([(1.0, 1.2, 0.6), (1.1, 0.7, 0.6)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=4)
    assert measurement.learner_speedup == pytest.approx(1.0 / 0.7)


def test_slow_code_fails_when_the_reference_shows_the_machine_could_do_it():
    run_round, asked = scripted([(1.0, 1.0, 0.6)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=4)
    assert True in asked
    with pytest.raises(pytest.fail.Exception, match="too slow.*required 1.15x"):
        speed.judge(measurement)


def test_a_busy_machine_is_inconclusive_not_a_failure():
    run_round, _ = scripted([(1.0, 1.0, 1.0)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=4)
    with pytest.raises(Inconclusive):
        speed.judge(measurement)


def test_figures_show_measured_and_required():
    run_round, _ = scripted([(1.0, 0.5, 0.5)])
    text = speed.measure("f on 2 cores", 1.15, run_round, max_rounds=2).figures()
    assert "speedup 2.00x" in text and "required 1.15x" in text and "serial 1.000 s" in text


class _Untimed:
    """A target whose timed runs must not happen."""

    class settings:
        usable_cores = 2

    def run(self, *args, **kwargs):
        raise AssertionError("timed although the traced run showed no parallelism")


def _calls():
    from graders.sandbox.calls import Call

    return {name: Call("build_words_parallel", ()) for name in ("serial", "learner", "reference")}


def _parallel(**fields):
    from graders.grading.evidence import ParallelEvidence

    values = dict(calls=6, worker_pids=frozenset({11, 12}), calls_in_caller=0, max_processes_at_once=2)
    return ParallelEvidence(**{**values, **fields}), "build_word"


def test_code_that_never_ran_in_two_processes_at_once_is_not_timed_and_the_parallel_check_decides():
    with pytest.raises(pytest.fail.Exception, match="not timed: .*never in two at the same time.*the parallel check decides") as failed:
        speed.check(_Untimed(), "word_builder", _calls(), "f", compare=lambda values: None, parallel=_parallel(max_processes_at_once=1))
    assert failed.value.cause == "not_timed_parallel" and "too slow" not in str(failed.value)


def test_serial_work_behind_a_token_pool_is_not_timed():
    token_pool = _parallel(calls=8, calls_in_caller=6)
    with pytest.raises(pytest.fail.Exception, match="not timed: in the traced run 6 of the 8 calls of build_word ran inside the calling process") as failed:
        speed.check(_Untimed(), "word_builder", _calls(), "f", compare=lambda values: None, parallel=token_pool)
    assert failed.value.cause == "not_timed_parallel"


def test_wrong_results_are_not_timed_and_get_no_hint_about_pools():
    with pytest.raises(pytest.fail.Exception, match="not timed: .*wrong result in the results check.*decides") as failed:
        speed.check(
            _Untimed(), "image_filters", _calls(), "f", compare=lambda values: None, parallel=_parallel(),
            results_problem="got results of shape (4, 3), expected (4, 3, 12, 12)",
        )
    assert failed.value.cause == "not_timed_results"


class _Scripted:
    """A target whose timed runs replay values and seconds: round i's learner value is ``values[i]``."""

    class settings:
        usable_cores = 2
        speed_rounds = 5

        @staticmethod
        def required_speedup(cores):
            return 1.15

    def __init__(self, values):
        self.values = values
        self.round = 0
        self.recorded = []

    def run(self, module, calls, **options):
        from types import SimpleNamespace

        from graders.sandbox.calls import Outcome

        value = self.values[min(self.round, len(self.values) - 1)]
        self.round += 1
        outcomes = [Outcome("ok", value=None, seconds=0.1)]
        for call in calls[1:]:
            learner = call.label == "learner"
            outcomes.append(Outcome("ok", value=value if learner else 42, seconds=0.5 if learner else 1.0))
        return SimpleNamespace(outcomes=outcomes)

    def record_speed(self, measurement):
        self.recorded.append(measurement)


def _labelled_calls():
    from graders.sandbox.calls import Call

    return {name: Call("f", (), label=name) for name in ("serial", "learner", "reference")}


def test_the_result_of_every_timed_round_is_compared_not_only_the_first():
    # Right while the first round watches, then a fast wrong answer: the second round catches it.
    target = _Scripted([42, 0])
    with pytest.raises(pytest.fail.Exception, match="in timed round 2, .*got 0, expected 42") as failed:
        speed.check(
            target, "m", _labelled_calls(), "f", parallel=_parallel(),
            compare=lambda values: None if values["learner"] == 42 else f"got {values['learner']}, expected 42",
        )
    assert failed.value.cause == "wrong_timed_result" and target.round == 2


def test_right_results_in_every_round_are_timed_and_judged():
    target = _Scripted([42])
    speed.check(
        target, "m", _labelled_calls(), "f", parallel=_parallel(),
        compare=lambda values: None if values["learner"] == 42 else "wrong",
    )
    assert target.recorded and target.recorded[0].learner_speedup == pytest.approx(2.0)


def test_a_failure_rests_on_several_rounds_that_timed_the_reference_beside_the_learner():
    run_round, asked = scripted([(1.0, 2.0, 0.5)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=3)
    assert len(measurement.paired) == speed.PAIRED_ROUNDS
    with pytest.raises(pytest.fail.Exception, match=r"too slow.*yours took 4.00x, 4.00x, 4.00x the reference's time"):
        speed.judge(measurement)


def test_one_lucky_reference_round_is_inconclusive_not_a_failure():
    # Replayed from a CI run that failed the reference solution: the machine's speed drifted, and
    # the reference's best round fell in a fast spell the learner's rounds beside it did not share.
    run_round, _ = scripted([(1.201, 1.25, None), (1.30, 1.227, None), (1.25, 1.26, 0.855), (1.22, 1.24, 1.21), (1.21, 1.23, 1.25)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=4)
    assert measurement.reference_speedup > 1.2 * measurement.learner_speedup
    with pytest.raises(Inconclusive):
        speed.judge(measurement)


def test_a_large_consistent_gap_is_too_slow_even_when_the_busy_machine_kept_the_reference_below_the_threshold():
    # Replayed from issue 10: the reference reached about 1.0x, the learner's code took ~2.5x its time.
    run_round, _ = scripted([(1.0, 2.6, None), (1.0, 2.4, None), (1.0, 2.5, 1.0), (1.0, 2.6, 1.05), (1.0, 2.4, 0.98)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=5)
    assert measurement.reference_speedup < 1.15
    with pytest.raises(pytest.fail.Exception, match=r"too slow.*yours took 2.50x, 2.48x, 2.45x the reference's time") as failed:
        speed.judge(measurement)
    assert failed.value.cause == "too_slow"


@pytest.mark.parametrize(
    "rounds",
    [
        # Consistently slower, but by less than the large gap, and the reference never reached the threshold.
        [(1.0, 1.4, None), (1.0, 1.4, None), (1.0, 1.4, 1.0), (1.0, 1.45, 1.0), (1.0, 1.4, 1.0)],
        # A large gap in two rounds of three: one round where the two were alike is enough doubt.
        [(1.0, 2.0, None), (1.0, 2.0, None), (1.0, 2.0, 1.0), (1.0, 1.1, 1.0), (1.0, 2.0, 1.0)],
        # A large gap in each paired round, but the learner's best (an unpaired round) was as good as
        # the reference's best: the paired rounds fell in a slow spell of the learner's.
        [(1.0, 0.9, None), (1.0, 0.95, None), (1.0, 2.0, 1.0), (1.0, 2.0, 1.0), (1.0, 2.0, 1.0)],
        # The learner as fast as the reference, both short of the threshold: a busy machine.
        [(1.0, 1.0, None), (1.0, 1.0, None), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)],
    ],
    ids=["small-gap", "gap-not-in-every-round", "best-as-good", "alike"],
)
def test_what_cannot_be_told_apart_from_noise_is_inconclusive(rounds):
    run_round, _ = scripted(rounds)
    measurement = speed.measure("f", 1.15, run_round, max_rounds=5)
    assert len(measurement.paired) == speed.PAIRED_ROUNDS
    with pytest.raises(Inconclusive):
        speed.judge(measurement)


def test_a_failure_is_decided_as_soon_as_the_paired_rounds_show_it():
    run_round, asked = scripted([(1.0, 3.0, 0.6)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=8)
    assert len(asked) == speed.MIN_ROUNDS + speed.PAIRED_ROUNDS
