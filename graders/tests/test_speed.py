"""The speed verdict, on scripted measurements: pass, fail for slow code, inconclusive for a busy machine."""
from __future__ import annotations

import pytest

from graders import speed


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
    with pytest.raises(pytest.skip.Exception, match="inconclusive"):
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


def test_code_that_never_ran_in_two_processes_at_once_gets_no_speedup_credited():
    from graders.calls import Call
    from graders.evidence import ParallelEvidence

    serialised = ParallelEvidence(calls=6, worker_pids=frozenset({11, 12}), calls_in_caller=0, max_processes_at_once=1)
    calls = {name: Call("build_words_parallel", ()) for name in ("serial", "learner", "reference")}
    with pytest.raises(pytest.fail.Exception, match="too slow: no speedup can be credited.*never in two at the same time"):
        speed.check(_Untimed(), "word_builder", calls, "f", compare=lambda values: None, parallel=(serialised, "build_word"))


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
    with pytest.raises(pytest.skip.Exception, match="inconclusive"):
        speed.judge(measurement)


def test_a_failure_is_decided_as_soon_as_the_paired_rounds_show_it():
    run_round, asked = scripted([(1.0, 3.0, 0.6)])
    measurement = speed.measure("f", 1.15, run_round, max_rounds=8)
    assert len(asked) == speed.MIN_ROUNDS + speed.PAIRED_ROUNDS
