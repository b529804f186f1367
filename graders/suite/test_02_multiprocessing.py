"""Grader for 02_multiprocessing: correct results, real parallelism, a speedup, no leftover processes.

Each of the three parts is graded the same way:
- results: the parallel function's output equals the grader's serial run of the same task function,
  on random inputs;
- parallel: the task function, traced in every process, ran in at least two worker processes at
  the same time (see graders.tracing: a structural check that does not depend on the machine's load);
- speedup: best of interleaved rounds against the grader's serial loop, with a threshold that
  depends on the usable cores and a reference pool that tells a busy machine from slow code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from graders import speed
from graders.calls import Call, Outcome
from graders.evidence import ParallelEvidence
from graders.feedback import fail, show, value_of
from graders.target import GradedTarget

SERIAL = "graders.reference:serial_starmap"
REFERENCE = "graders.reference:pool_starmap"


@dataclass(frozen=True)
class Workload:
    """One input for a part: the learner's arguments (without `processes`) and the task calls they imply."""

    args: tuple
    described: str
    task_calls: list[tuple]


@dataclass(frozen=True)
class Part:
    module: str
    function: str
    task: str
    small: Callable[[GradedTarget], Workload]
    large: Callable[[GradedTarget, float], Workload]
    # Turns the serial per-task results into what the learner's function should return.
    combine: Callable[[list, Workload], Any]
    same: Callable[[Any, Any], str | None]

    def call(self, workload: Workload, processes: int) -> Call:
        return Call(
            self.function,
            (*workload.args, processes),
            label=f"{self.function}({workload.described}, processes={processes})",
        )


def _word_workload(count: int, base_length: int) -> Callable[..., Workload]:
    def make(target: GradedTarget, scale: float = 1.0) -> Workload:
        length = int(base_length * scale)
        seeds = target.rng(f"words-{count}").sample(range(10**6), count)
        return Workload((seeds, length), f"seeds={show(seeds)}, length={length}", [(s, length) for s in seeds])

    return make


def _same_words(got, expected) -> str | None:
    if not isinstance(got, list):
        return f"got a {type(got).__name__}, expected a list of {len(expected)} words"
    if len(got) != len(expected):
        return f"got {len(got)} words, expected {len(expected)} (one per seed)"
    for index, (word, wanted) in enumerate(zip(got, expected)):
        if word != wanted:
            return f"word {index} is {show(word)}, expected build_word(seeds[{index}], length) = {show(wanted)}"
    return None


def _image_workload(base_count: int, size: int, kernel_size: int) -> Callable[..., Workload]:
    def make(target: GradedTarget, scale: float = 1.0) -> Workload:
        count = int(base_count * scale)
        seed = target.rng(f"images-{count}").randrange(10**6)
        rng = np.random.default_rng(seed)
        images = rng.random((count, size, size, 3))
        kernel = rng.random((kernel_size, kernel_size))
        kernel /= kernel.sum()
        tasks = [(images[i], channel, kernel) for i in range(count) for channel in range(3)]
        described = f"images of shape {images.shape}, kernel of shape {kernel.shape}"
        return Workload((images, kernel), described, tasks)

    return make


def _group_channels(results: list, workload: Workload) -> list:
    return [results[i : i + 3] for i in range(0, len(results), 3)]


def _same_images(got, expected) -> str | None:
    wanted = np.asarray(expected)
    try:
        array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"got {show(got)}, which is not a list of images with 3 filtered channels each"
    if array.shape != wanted.shape:
        return f"got results of shape {array.shape}, expected {wanted.shape} (images x channels x height x width)"
    bad = [(i, c) for i in range(wanted.shape[0]) for c in range(3) if not np.allclose(array[i, c], wanted[i, c])]
    if bad:
        i, c = bad[0]
        return f"image {i}, channel {c} differs from filter_channel(images[{i}], {c}, kernel) ({len(bad)} of {wanted.shape[0] * 3} differ)"
    return None


def _number_workload(base_count: int) -> Callable[..., Workload]:
    def make(target: GradedTarget, scale: float = 1.0) -> Workload:
        count = int(base_count * scale)
        start = target.rng(f"tiny-{count}").randrange(1, 10**5)
        numbers = list(range(start, start + count))
        return Workload((numbers,), f"numbers={start}..{start + count - 1}", [(n,) for n in numbers])

    return make


def _same_total(got, expected) -> str | None:
    if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
        return f"got {show(got)} (a {type(got).__name__}), expected the total {expected} (an int)"
    return None if got == expected else f"got {got}, expected {expected}"


WORDS = Part(
    "word_builder", "build_words_parallel", "build_word",
    small=_word_workload(6, 20_000), large=_word_workload(8, 500_000),
    combine=lambda results, workload: results, same=_same_words,
)
IMAGES = Part(
    "image_filters", "filter_images_parallel", "filter_channel",
    small=_image_workload(4, 16, 5), large=_image_workload(24, 56, 41),
    combine=_group_channels, same=_same_images,
)
TINY = Part(
    "tiny_tasks", "total_steps_parallel", "collatz_steps",
    small=_number_workload(3_000), large=_number_workload(60_000),
    combine=lambda results, workload: sum(results), same=_same_total,
)
PARTS = {"words": WORDS, "images": IMAGES, "tiny": TINY}


def expected(target: GradedTarget, part: Part, workload: Workload) -> Any:
    def compute():
        call = Call(SERIAL, (part.task, workload.task_calls), label=f"{part.task}(...) in a loop")
        return part.combine(target.call(part.module, call), workload)

    return target.once(("expected", part.function, workload.described), compute)


def parallel_run(target: GradedTarget, part: Part) -> tuple[Call, Outcome, ParallelEvidence]:
    call = part.call(part.small(target), target.workers)
    return (call, *target.once(("parallel", part.function), lambda: target.parallel_run(part.module, call, part.task)))


def check_results(target: GradedTarget, part: Part) -> None:
    call, outcome, _ = parallel_run(target, part)
    got = value_of(outcome, call.describe(), part.module)
    problem = part.same(got, expected(target, part, part.small(target)))
    if problem:
        fail(f"called {call.describe()}: {problem}")


def check_parallel(target: GradedTarget, part: Part) -> None:
    call, outcome, evidence = parallel_run(target, part)
    target.require_parallel(part.module, call, evidence, outcome, part.task)


def check_speedup(target: GradedTarget, part: Part) -> None:
    call, outcome, evidence = parallel_run(target, part)
    value_of(outcome, call.describe(), part.module)
    cores = target.settings.usable_cores
    workload = part.large(target, target.timed_workload_scale)
    calls = {
        "serial": Call(SERIAL, (part.task, workload.task_calls), label=f"{part.task}(...) in a loop"),
        "learner": part.call(workload, cores),
        "reference": Call(REFERENCE, (part.task, workload.task_calls, cores), label="the grader's reference pool"),
    }
    speed.check(
        target, part.module, calls, f"{part.function} on {cores} cores",
        compare=lambda values: part.same(values["learner"], part.combine(values["serial"], workload)),
        parallel=(evidence, part.task),
    )


@pytest.mark.points(1)
def test_words_map_results(target):
    workload = WORDS.small(target)
    call = Call("build_words_map", workload.args, label=f"build_words_map({workload.described})")
    problem = _same_words(target.call(WORDS.module, call), expected(target, WORDS, workload))
    if problem:
        fail(f"called {call.describe()}: {problem}")


@pytest.mark.points(1)
def test_words_results(target):
    check_results(target, WORDS)


@pytest.mark.points(2)
def test_words_parallel(target):
    check_parallel(target, WORDS)


@pytest.mark.points(1)
def test_words_speedup(target):
    check_speedup(target, WORDS)


@pytest.mark.points(1)
def test_images_results(target):
    check_results(target, IMAGES)


@pytest.mark.points(2)
def test_images_parallel(target):
    check_parallel(target, IMAGES)


@pytest.mark.points(1)
def test_images_speedup(target):
    check_speedup(target, IMAGES)


@pytest.mark.points(1)
def test_tiny_results(target):
    check_results(target, TINY)


@pytest.mark.points(1)
def test_tiny_parallel(target):
    check_parallel(target, TINY)


@pytest.mark.points(2)
def test_tiny_speedup(target):
    check_speedup(target, TINY)


@pytest.mark.points(1)
def test_no_leftover_processes(target):
    for part in PARTS.values():
        call, outcome, _ = parallel_run(target, part)
        target.require_no_leftovers(part.module, call, outcome)
