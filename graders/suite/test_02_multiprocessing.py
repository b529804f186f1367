"""Grader for 02_multiprocessing: correct results, real parallelism, a speedup, no leftover processes.

Each of the three parts is graded the same way:
- results: the parallel function's output equals what the grader's own copies of the given task
  functions (graders/given/ex02.py) compute, on seeded random inputs with fixed edges: a count that
  does not divide by `processes`, equal inputs (a seed, an image, numbers given twice);
- parallel: the task function, traced in every process, ran as asked (see graders.grading.evidence): every
  call in a worker process (none in the caller), as many calls as the input has tasks, in exactly
  `processes` workers of one pool, at least two at the same time. `processes` is chosen to differ
  from the machine's core counts, so Pool() or os.cpu_count() shows (a structural check that does
  not depend on the machine's load);
- speedup: best of interleaved rounds against the grader's serial loop, with a threshold that
  depends on the usable cores and a reference pool that tells a busy machine from slow code; the
  result of every timed round is compared too. Code that failed the results or the parallel check
  is "not timed": that check decides.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from graders.grading import speed
from graders.sandbox.calls import Call, Outcome
from graders.grading.evidence import ParallelEvidence
from graders.grading.feedback import fail, show, value_of
from graders.given import ex02
from graders.grading.specification import Requirement
from graders.grading.target import GradedTarget
from graders.harnesses.reference import pool_starmap, serial_starmap



def pool_size(target: GradedTarget) -> int:
    """The `processes` of the traced runs: at least 3, and unlike every core count of this machine.

    A pool sized by Pool() or os.cpu_count() (the affinity on 3.13+) then has another number of
    workers than asked, and the parallel check sees it.
    """
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    avoid = {os.cpu_count(), affinity, target.settings.usable_cores}
    size = 3
    while size in avoid:
        size += 1
    return size


@dataclass(frozen=True)
class Workload:
    """One input for a part: the learner's arguments (without `processes`) and the task calls they imply."""

    args: tuple
    described: str
    task_calls: list[tuple]
    # Task calls that must happen at least (equal inputs may be computed once).
    distinct_tasks: int


@dataclass(frozen=True)
class Part:
    name: str
    module: str
    function: str
    task: str
    small: Callable[[GradedTarget, int], Workload]
    large: Callable[[GradedTarget, float], Workload]
    # The grader's own value for a workload (from graders.given.ex02, in the grading process).
    expect: Callable[[Workload], Any]
    same: Callable[[Any, Any], str | None]

    def call(self, workload: Workload, processes: int) -> Call:
        return Call(
            self.function,
            (*workload.args, processes),
            label=f"{self.function}({workload.described}, processes={processes})",
        )


def _small_words(target: GradedTarget, processes: int) -> Workload:
    # 2 * processes + 1 seeds: never a multiple of processes; seeds[0] again at index 3.
    count = 2 * processes + 1
    seeds = target.rng(f"words-{count}").sample(range(10**6), count - 1)
    seeds.insert(3, seeds[0])
    length = 20_000
    return Workload((seeds, length), f"seeds={show(seeds)}, length={length}", [(s, length) for s in seeds], len(set(seeds)))


def _large_words(target: GradedTarget, scale: float) -> Workload:
    length = int(500_000 * scale)
    seeds = target.rng("words-large").sample(range(10**6), 8)
    return Workload((seeds, length), f"seeds={show(seeds)}, length={length}", [(s, length) for s in seeds], len(seeds))


def _words_expected(workload: Workload) -> list:
    return [ex02.build_word(seed, length) for seed, length in workload.task_calls]


def _same_words(got, expected) -> str | None:
    if not isinstance(got, list):
        return f"got a {type(got).__name__}, expected a list of {len(expected)} words"
    if len(got) != len(expected):
        return f"got {len(got)} words, expected {len(expected)} (one per seed, a seed given twice included)"
    for index, (word, wanted) in enumerate(zip(got, expected)):
        if word != wanted:
            return f"word {index} is {show(word)}, expected build_word(seeds[{index}], length) = {show(wanted)}"
    return None


def _images(target: GradedTarget, salt: str, count: int, size: int, kernel_size: int, repeat: bool) -> Workload:
    seed = target.rng(f"images-{salt}-{count}").randrange(10**6)
    rng = np.random.default_rng(seed)
    images = rng.random((count, size, size, 3))
    if repeat:
        images[-1] = images[0]
    kernel = rng.random((kernel_size, kernel_size))
    kernel /= kernel.sum()
    tasks = [(images[i], channel, kernel) for i in range(count) for channel in range(3)]
    distinct = (count - 1 if repeat and count > 1 else count) * 3
    described = f"images of shape {images.shape}, kernel of shape {kernel.shape}"
    return Workload((images, kernel), described, tasks, distinct)


def _small_images(target: GradedTarget, processes: int) -> Workload:
    # processes + 2 images (not a multiple of processes), the last one equal to the first.
    return _images(target, "small", processes + 2, 16, 5, repeat=True)


def _large_images(target: GradedTarget, scale: float) -> Workload:
    return _images(target, "large", int(24 * scale), 56, 41, repeat=False)


def _images_expected(workload: Workload) -> list:
    channels = [ex02.filter_channel(*task) for task in workload.task_calls]
    return [channels[i : i + 3] for i in range(0, len(channels), 3)]


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


def _small_numbers(target: GradedTarget, processes: int) -> Workload:
    # 1000 * processes + 1 numbers (never a multiple of processes): 1 (no steps at all), a random run
    # of consecutive numbers, and some of them again.
    count = 1000 * processes + 1
    rng = target.rng(f"tiny-{count}")
    start = rng.randrange(2, 10**5)
    run = list(range(start, start + count - 11))
    numbers = [1, *run, *rng.sample(run, 10)]
    rng.shuffle(numbers)
    return Workload((numbers,), f"numbers={show(numbers)} ({count} numbers, {len(set(numbers))} distinct)", [(n,) for n in numbers], len(set(numbers)))


def _large_numbers(target: GradedTarget, scale: float) -> Workload:
    count = int(60_000 * scale)
    start = target.rng(f"tiny-large-{count}").randrange(1, 10**5)
    numbers = list(range(start, start + count))
    return Workload((numbers,), f"numbers={start}..{start + count - 1}", [(n,) for n in numbers], count)


def _total_expected(workload: Workload) -> int:
    return sum(ex02.collatz_steps(n) for (n,) in workload.task_calls)


def _same_total(got, expected) -> str | None:
    if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
        return f"got {show(got)} (a {type(got).__name__}), expected the total {expected} (an int)"
    return None if got == expected else f"got {got}, expected {expected}"


WORDS = Part(
    "words", "word_builder", "build_words_parallel", "build_word",
    small=_small_words, large=_large_words, expect=_words_expected, same=_same_words,
)
IMAGES = Part(
    "images", "image_filters", "filter_images_parallel", "filter_channel",
    small=_small_images, large=_large_images, expect=_images_expected, same=_same_images,
)
TINY = Part(
    "tiny", "tiny_tasks", "total_steps_parallel", "collatz_steps",
    small=_small_numbers, large=_large_numbers, expect=_total_expected, same=_same_total,
)
PARTS = {"words": WORDS, "images": IMAGES, "tiny": TINY}


SPECIFICATION = (
    Requirement(
        source="word_builder.py",
        quote="Each word has its own seed, so the same seed always gives the same word, in any process: "
        "results can be compared with the serial version.",
        checks=("words_results",),
        edges="the words built in the workers are compared with the grader's own serial build_word",
    ),
    Requirement(
        source="image_filters.py",
        quote="Every (image, channel) pair is filtered independently: a 2-D convolution with a small "
        "kernel, then the magnitude of an inverse FFT. The serial code loops over images, then "
        "channels; the parallel version turns the two loops into one list of tasks.",
        checks=("images_results", "images_parallel"),
        edges="one traced filter_channel call per pair, in the workers; results per image, in channel order",
    ),
    Requirement(
        source="tiny_tasks.py",
        quote="Handing a task to a worker process costs about as much as computing one Collatz sequence, "
        "so a pool that sends the numbers one by one is slower than the plain loop. Give each worker a "
        "large chunk of numbers at a time and the fixed cost is paid once per chunk instead of once "
        "per number.",
        checks=("tiny_speedup",),
        edges="60 000 numbers timed against the serial loop and the grader's chunked reference pool",
    ),
    Requirement(
        source="word_builder.py:build_word",
        quote="A random word of `length` letters, the same for the same seed.",
        checks=("words_map_results", "words_results"),
        edges="expected words come from the grader's own copy of build_word (graders/given/ex02.py), "
        "never from the learner's module: a build_word changed into another function fails",
    ),
    Requirement(
        source="word_builder.py:build_words_loop",
        quote="The serial version: one word per seed, in order.",
        checks=("words_map_results", "words_results"),
        edges="seeded random seeds; seeds[0] given again at index 3",
    ),
    Requirement(
        source="word_builder.py:build_words_map",
        quote="The same words with map() instead of a loop (still serial).",
        checks=("words_map_results",),
        edges="the small words input: 2 * processes + 1 seeds, one seed twice; a lazy map is reported as such",
    ),
    Requirement(
        source="word_builder.py:build_words_parallel",
        quote="The same words, built by a pool of `processes` worker processes; same order as the seeds.",
        checks=("words_results", "words_parallel", "words_speedup"),
        edges="processes = 3 here (never a core count of the machine, so Pool() or os.cpu_count() shows "
        "as another number of workers); 2 * processes + 1 seeds (not a multiple of processes); the "
        "timed input: 8 seeds of 500 000 letters (twice as long under spawn and forkserver)",
    ),
    Requirement(
        source="word_builder.py:build_words_parallel",
        quote="One word per seed, a seed given twice included.",
        checks=("words_results",),
        edges="seeds[0] again at index 3: a dict keyed by seed loses a word; building it once and "
        "repeating it is right",
    ),
    Requirement(
        source="word_builder.py:build_words_parallel",
        quote="One pool per call, of exactly `processes` workers, and every word is built by calling "
        "build_word in those workers, none in the calling process.",
        checks=("words_parallel",),
        edges="build_word traced in every process: calls in the caller (serial work behind a token "
        "pool, threads), fewer calls than distinct seeds or more than seeds, another number of "
        "worker processes than processes (Pool(), Pool(1), a pool per seed), never two at once",
    ),
    Requirement(
        source="word_builder.py:build_words_parallel",
        quote="The pool is closed before the function returns.",
        checks=("no_leftover_processes",),
        edges="after each part's traced call, no child process may still run and no pool be left open",
    ),
    Requirement(
        source="image_filters.py:make_images",
        quote="`count` random RGB images, shape (count, size, size, 3).",
        checks=("images_results",),
        edges="the grader's images have this shape: processes + 2 images of 16 x 16 (the last equal to "
        "the first); timed: 24 of 56 x 56 (48 under spawn and forkserver)",
    ),
    Requirement(
        source="image_filters.py:make_kernel",
        quote="A random square convolution kernel whose weights sum to 1.",
        checks=("images_results",),
        edges="kernels of 5 x 5 (timed: 41 x 41), normalised to sum 1",
    ),
    Requirement(
        source="image_filters.py:convolve",
        quote='2-D convolution ("valid" part only) of one channel with the kernel, in plain numpy.',
        checks=("images_results",),
        edges="expected values from the grader's own copy (graders/given/ex02.py)",
    ),
    Requirement(
        source="image_filters.py:filter_channel",
        quote="Filter one channel of one image: convolve, then take the magnitude of the inverse FFT.",
        checks=("images_results",),
        edges="expected values from the grader's own copy (graders/given/ex02.py), never the learner's",
    ),
    Requirement(
        source="image_filters.py:filter_images_loop",
        quote="The serial version: a list with, for each image, the list of its filtered channels.",
        checks=("images_results", "images_speedup"),
        edges="shape images x 3 channels; a flat list of channels fails the results check and is not timed",
    ),
    Requirement(
        source="image_filters.py:filter_images_parallel",
        quote="The same result as filter_images_loop, from a pool of `processes` workers.",
        checks=("images_results", "images_parallel", "images_speedup"),
        edges="processes + 2 images (not a multiple of processes), two of them equal; processes unlike "
        "any core count; timed on 24 images of 56 x 56 with a 41 x 41 kernel",
    ),
    Requirement(
        source="image_filters.py:filter_images_parallel",
        quote="Each (image, channel) pair is one task: one call of filter_channel, made in a worker "
        "process. One pool per call, of exactly `processes` workers, closed before the function returns.",
        checks=("images_parallel", "no_leftover_processes"),
        edges="filter_channel traced in every process: a pool per image shows more workers than "
        "processes; a ThreadPool shows calls in the caller",
    ),
    Requirement(
        source="tiny_tasks.py:collatz_steps",
        quote="How many steps the Collatz sequence takes from n down to 1.",
        checks=("tiny_results",),
        edges="1 is among the numbers (0 steps); expected values from the grader's own copy",
    ),
    Requirement(
        source="tiny_tasks.py:total_steps_loop",
        quote="The serial version: the total number of Collatz steps over all the numbers.",
        checks=("tiny_results",),
        edges="every number of the list counts, repeated ones included",
    ),
    Requirement(
        source="tiny_tasks.py:total_steps_one_by_one",
        quote="A pool that sends one number per task: correct, parallel, and slower than the loop.",
        checks=("tiny_speedup",),
        edges="handed in as total_steps_parallel, it is too slow against the grader's reference",
    ),
    Requirement(
        source="tiny_tasks.py:total_steps_parallel",
        quote="The same total as total_steps_loop, faster than it: the numbers go to the workers in chunks.",
        checks=("tiny_results", "tiny_parallel", "tiny_speedup"),
        edges="timed on 60 000 consecutive numbers (120 000 under spawn and forkserver), the result "
        "compared in every timed round",
    ),
    Requirement(
        source="tiny_tasks.py:total_steps_parallel",
        quote="Every number counts, a number given twice twice, whether or not the count divides by `processes`.",
        checks=("tiny_results",),
        edges="1000 * processes + 1 numbers, 10 of them twice: chunks of len // processes lose the "
        "remainder, a set loses the repeats",
    ),
    Requirement(
        source="tiny_tasks.py:total_steps_parallel",
        quote="Each number is one call of collatz_steps, made in a worker process. One pool per call, "
        "of exactly `processes` workers, closed before the function returns.",
        checks=("tiny_parallel", "no_leftover_processes"),
        edges="collatz_steps traced in every process (a chunk function that calls it counts each "
        "number); Pool(os.cpu_count()) shows another number of workers",
    ),
    Requirement(
        source="README.md",
        quote="results: equal to the serial version, in order, on random inputs",
        checks=("words_results", "images_results", "tiny_results"),
        edges="seeded random inputs plus the fixed edges above, on every seed",
    ),
    Requirement(
        source="README.md",
        quote="parallel: your task function ran in at least two worker processes at the same time",
        checks=("words_parallel", "images_parallel", "tiny_parallel"),
        edges="the trace channel holds each start until `processes` workers are working at once",
    ),
    Requirement(
        source="README.md",
        quote="exactly processes worker processes of one pool per call",
        checks=("words_parallel", "images_parallel", "tiny_parallel"),
        edges="processes = 3 here: never the machine's core count, so Pool() / os.cpu_count() shows",
    ),
    Requirement(
        source="README.md",
        quote="speedup (\"fast enough\"): your function against the grader's own serial loop, best of interleaved rounds.",
        checks=("words_speedup", "images_speedup", "tiny_speedup"),
        edges="serial loop, learner and reference pool interleaved in rotating order; a too-slow verdict "
        "needs three paired rounds",
    ),
    Requirement(
        source="README.md",
        quote="The expected values come from the grader's own copies of the given functions",
        checks=("words_map_results", "words_results", "images_results", "tiny_results"),
        edges="graders/given/ex02.py, computed in the grading process",
    ),
    Requirement(
        source="README.md",
        quote="a count of items that does not divide by `processes`, and equal items (a seed, an image, "
        "numbers given twice), each of which counts as many times as it is given",
        checks=("words_results", "images_results", "tiny_results"),
        edges="2 * processes + 1 seeds, processes + 2 images, 1000 * processes + 1 numbers; one seed, "
        "one image and ten numbers twice",
    ),
    Requirement(
        source="README.md",
        quote="every task must be one call of the task function, made in a worker",
        checks=("words_parallel", "images_parallel", "tiny_parallel"),
        edges="traced calls counted in every process, the caller's included; fewer than the distinct "
        "tasks or more than the tasks fail",
    ),
    Requirement(
        source="README.md",
        quote="the grader picks a `processes` unlike your machine's core count",
        checks=("words_parallel", "images_parallel", "tiny_parallel"),
        edges="the smallest size from 3 up that is neither os.cpu_count(), the CPU affinity nor the usable cores",
    ),
    Requirement(
        source="README.md",
        quote="You fail it only when the grader's own reference pool, timed beside your function in each "
        "of three rounds, shows your code is slower",
        checks=("words_speedup", "images_speedup", "tiny_speedup"),
        edges="1.2x in each paired round with the reference at the threshold, or 1.5x in each and best "
        "against best (graders/grading/speed.py); anything else is inconclusive",
    ),
    Requirement(
        source="README.md",
        quote="The result of every timed round must be right.",
        checks=("words_speedup", "images_speedup", "tiny_speedup"),
        edges="each round's result compared with the grader's own value for the timed input",
    ),
    Requirement(
        source="README.md",
        quote="A version that failed the results or the parallel check is not timed and gets no speedup point",
        checks=("words_speedup", "images_speedup", "tiny_speedup"),
        edges="the failure names the check that decides (causes not_timed_results, not_timed_parallel)",
    ),
    Requirement(
        source="README.md",
        quote="Flatten the two nested loops into one list of (image, channel) tasks",
        checks=("images_parallel",),
        edges="one traced filter_channel call per (image, channel) pair",
    ),
    Requirement(
        source="README.md",
        quote="Write total_steps_parallel so each task carries a large chunk of numbers.",
        checks=("tiny_speedup",),
        edges="one number per task is too slow against the reference on 60 000 numbers",
    ),
    Requirement(
        source="README.md",
        quote="Worker functions must be defined at module level: a lambda or nested function cannot be "
        "sent to a worker process.",
        checks=("words_results", "words_parallel"),
        edges="a lambda handed to the pool is reported as unpicklable, under spawn too",
    ),
    Requirement(
        source="README.md",
        quote="no leftover processes: every pool closed (with Pool(...) as pool:), every process joined.",
        checks=("no_leftover_processes",),
        edges="checked after the traced call of each part",
    ),
)


def expected(target: GradedTarget, part: Part, workload: Workload) -> Any:
    return target.once(("expected", part.function, workload.described, len(workload.task_calls)), lambda: part.expect(workload))


def small_workload(target: GradedTarget, part: Part) -> Workload:
    return target.once(("small", part.name), lambda: part.small(target, pool_size(target)))


def parallel_run(target: GradedTarget, part: Part) -> tuple[Call, Outcome, ParallelEvidence]:
    workload = small_workload(target, part)
    processes = pool_size(target)
    call = part.call(workload, processes)
    run = target.once(
        ("parallel", part.function),
        lambda: target.parallel_run(
            part.module, call, part.task,
            tasks=len(workload.task_calls), workers=processes, fewest_tasks=workload.distinct_tasks,
        ),
    )
    return (call, *run)


def results_problem(target: GradedTarget, part: Part) -> str | None:
    """What is wrong with the traced call's result (failing the check if it has none)."""
    call, outcome, _ = parallel_run(target, part)
    got = value_of(outcome, call.describe(), part.module)
    return part.same(got, expected(target, part, small_workload(target, part)))


def check_results(target: GradedTarget, part: Part) -> None:
    call, _, _ = parallel_run(target, part)
    problem = results_problem(target, part)
    if problem:
        fail(f"called {call.describe()}: {problem}", cause="wrong_result")


def check_parallel(target: GradedTarget, part: Part) -> None:
    call, outcome, evidence = parallel_run(target, part)
    value_of(outcome, call.describe(), part.module)
    if results_problem(target, part):
        # Wrong results are the results check's charge: the calls a lost task never made are not
        # charged again here, only how the calls that were made ran.
        evidence = dataclasses.replace(evidence, tasks=None, fewest_tasks=None)
    target.require_parallel(part.module, call, evidence, outcome, part.task)


def check_speedup(target: GradedTarget, part: Part) -> None:
    call, outcome, evidence = parallel_run(target, part)
    value_of(outcome, call.describe(), part.module)
    problem = results_problem(target, part)
    cores = target.settings.usable_cores
    workload = part.large(target, target.timed_workload_scale)
    calls = {
        "serial": Call(serial_starmap, (part.task, workload.task_calls), label=f"{part.task}(...) in a loop"),
        "learner": part.call(workload, cores),
        "reference": Call(pool_starmap, (part.task, workload.task_calls, cores), label="the grader's reference pool"),
    }
    speed.check(
        target, part.module, calls, f"{part.function} on {cores} cores",
        compare=lambda values: part.same(values["learner"], expected(target, part, workload)),
        parallel=(evidence, part.task),
        results_problem=problem,
        parallel_check=f"the {part.name}_parallel check",
        results_check=f"the {part.name}_results check",
    )


@pytest.mark.points(1)
def test_words_map_results(target):
    workload = small_workload(target, WORDS)
    call = Call("build_words_map", workload.args, label=f"build_words_map({workload.described})")
    problem = _same_words(target.call(WORDS.module, call), expected(target, WORDS, workload))
    if problem:
        fail(f"called {call.describe()}: {problem}", cause="wrong_result")


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
    # Judged on the parts whose call returned: a part that crashed or is not written yet is charged
    # by its own checks, not again here; with none returned there is nothing to judge.
    runs = [(part, *parallel_run(target, part)) for part in PARTS.values()]
    returned = [(part, call, outcome) for part, call, outcome, _ in runs if outcome.ok]
    if not returned:
        part, call, outcome, _ = runs[0]
        value_of(outcome, call.describe(), part.module)
    for part, call, outcome in returned:
        target.require_no_leftovers(part.module, call, outcome)
