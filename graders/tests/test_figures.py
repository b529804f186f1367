"""Speed figures that teach (graders.grading.figures): efficiency, the Karp-Flatt serial fraction and
Amdahl's predictions, with their guards, and how a speed check reports them."""
from __future__ import annotations

import math

import pytest

from graders.grading import speed
from graders.grading.figures import AMDAHL_CORES, SpeedFigures, figures


def test_a_speedup_of_one_and_a_half_on_two_cores_implies_a_third_of_the_work_serial():
    measured = figures(1.5, 2)
    assert measured.efficiency == pytest.approx(0.75)
    # (1/1.5 - 1/2) / (1 - 1/2) = 1/3
    assert measured.serial_fraction == pytest.approx(1 / 3)
    # Amdahl with e = 1/3: 1 / (1/3 + (2/3)/n)
    assert measured.predictions() == pytest.approx({4: 2.0, 8: 2.4, 16: 1 / (1 / 3 + 2 / 48)})
    assert tuple(measured.predictions()) == AMDAHL_CORES


def test_the_serial_fraction_is_the_one_amdahls_law_was_given():
    # A program with 10 % serial work, timed on 4 cores by Amdahl's law: Karp-Flatt gives the 10 % back.
    speedup = 1 / (0.1 + 0.9 / 4)
    assert figures(speedup, 4).serial_fraction == pytest.approx(0.1)
    assert figures(speedup, 4).amdahl(4) == pytest.approx(speedup)


def test_a_perfect_speedup_has_no_serial_fraction_and_scales_with_the_cores():
    measured = figures(2.0, 2)
    assert measured.serial_fraction == pytest.approx(0.0)
    assert measured.predictions() == pytest.approx({4: 4.0, 8: 8.0, 16: 16.0})
    assert "no serial fraction shows" in measured.line()


def test_one_core_infers_nothing_and_divides_by_nothing():
    measured = figures(1.0, 1)
    assert measured.serial_fraction is None and measured.amdahl(4) is None and measured.predictions() == {}
    assert "one core" in measured.line()
    assert "at least two cores" in measured.paragraph()


@pytest.mark.parametrize("speedup", [0.0, -1.0, math.nan, math.inf])
def test_a_speedup_that_is_not_positive_and_finite_infers_nothing(speedup):
    measured = figures(speedup, 2)
    assert measured.serial_fraction is None and measured.predictions() == {}
    assert "None" not in measured.line() and "None" not in measured.paragraph()
    assert "nothing to read" in measured.paragraph()


def test_code_slower_than_serial_gets_no_prediction_of_more_cores_helping():
    measured = figures(0.8, 2)
    assert measured.serial_fraction > 1
    assert measured.amdahl(16) == pytest.approx(1.0)  # the fraction is capped at 1: all serial
    assert "no speedup over the serial loop" in measured.line() and "1." not in measured.line()
    assert "More cores would not help" in measured.paragraph()


def test_a_superlinear_speedup_shows_no_serial_fraction():
    measured = figures(2.5, 2)
    assert measured.serial_fraction < 0
    assert measured.predictions() == pytest.approx({4: 4.0, 8: 8.0, 16: 16.0})
    assert "No part of the work behaved as serial" in measured.paragraph()


def test_the_paragraph_names_every_figure_in_the_learners_terms():
    text = figures(1.5, 2).paragraph()
    for words in ("1.50x as fast as the serial loop on 2 cores", "efficiency of 75%", "about 33% of the work",
                  "Karp-Flatt", "2.0x on 4, 2.4x on 8, 2.7x on 16 cores", "never more than 3.0x"):
        assert words in text, (words, text)


def test_the_line_is_short_enough_for_a_measurement_line():
    line = figures(1.37, 2).line()
    assert line.startswith("efficiency 68% of 2 cores, serial fraction 0.46 (Karp-Flatt)")
    assert "Amdahl's law predicts" in line and len(line) <= 125


def _scripted(rounds):
    rounds = list(rounds)

    def run_round(index, with_reference):
        serial, learner, reference = rounds[min(index, len(rounds) - 1)]
        return serial, learner, reference if with_reference else None

    return run_round


def test_a_speed_measurement_on_known_cores_carries_the_figures():
    measurement = speed.measure("f on 2 cores", 1.15, _scripted([(1.0, 0.5, 0.5)]), max_rounds=2, cores=2)
    assert measurement.cores == 2
    assert "efficiency 100% of 2 cores" in measurement.figures()
    data = measurement.as_dict()
    assert data["serial_fraction"] == pytest.approx(0.0) and data["amdahl"]["16"] == pytest.approx(16.0)


def test_a_speed_measurement_without_cores_reads_as_before():
    measurement = speed.measure("f", 1.15, _scripted([(1.0, 0.5, 0.5)]), max_rounds=2)
    assert "efficiency" not in measurement.figures() and "serial_fraction" not in measurement.as_dict()


def test_a_too_slow_verdict_explains_the_speedup_it_measured():
    # The learner's code at 1.1x, the reference at 2x, round after round: too slow.
    measurement = speed.measure("f on 2 cores", 1.15, _scripted([(1.0, 1.0 / 1.1, 0.5)]), max_rounds=5, cores=2)
    with pytest.raises(pytest.fail.Exception) as failed:
        speed.judge(measurement)
    message = failed.value.msg
    assert message.startswith("too slow: ") and "serial fraction 0.82 (Karp-Flatt)" in message
    assert "Your version ran 1.10x as fast as the serial loop on 2 cores" in message


def test_the_speed_check_times_its_rounds_without_drawing_timelines():
    from types import SimpleNamespace

    from graders.grading.evidence import ParallelEvidence
    from graders.sandbox.calls import Call, Outcome

    seen = []

    class Target:
        class settings:
            usable_cores = 2
            speed_rounds = 2

            @staticmethod
            def required_speedup(cores):
                return 1.15

        def run(self, module, calls, **options):
            seen.append(options)
            outcomes = [Outcome("ok", seconds=0.1)] + [
                Outcome("ok", value=1, seconds=0.5 if call.label == "learner" else 1.0) for call in calls[1:]
            ]
            return SimpleNamespace(outcomes=outcomes)

        def record_speed(self, measurement):
            self.measured = measurement

    target = Target()
    parallel = ParallelEvidence(calls=4, worker_pids=frozenset({1, 2}), calls_in_caller=0, max_processes_at_once=2)
    calls = {name: Call("f", (), label=name) for name in ("serial", "learner", "reference")}
    speed.check(target, "m", calls, "f on 2 cores", compare=lambda values: None, parallel=(parallel, "task"))
    assert seen and all(options.get("timeline") is False for options in seen)
    assert target.measured.cores == 2 and isinstance(target.measured.teaching(), SpeedFigures)
