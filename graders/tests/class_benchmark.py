"""A class graded one by one, then on the cluster, in the same run: submissions per minute, and the verdicts.

    python -m graders.tests.class_benchmark                                   # 02_multiprocessing, 40 submissions
    python -m graders.tests.class_benchmark --exercise 01_functional --size 20
    python -m graders.tests.class_benchmark --slots 1 --lanes 3               # LocalCluster's shape

The class is generated: the exercise's reference solution, its untouched stub, and each gallery entry
(graders/tests/gallery, built onto the reference as graders.tests.benchmark.submission builds it),
then more copies of the reference until ``--size``. Every submission gets the same
``--grading-seed`` in both legs, so both grade the same inputs.

- **One by one**: one grading process per submission, every check, the whole machine, one after
  another: what an instructor does today (``pytest --target`` in a loop); then, once, the checks
  left inconclusive, as the instructor is told to (the class command does the same at its end).
- **On the cluster**: ``python -m graders class grade`` (a LocalCluster), timed from the command's
  start to its end, cluster start-up and the quiet regrade of inconclusive checks included.

Then, check by check, the cluster's verdict is compared with the one-by-one verdict (a check
inconclusive on either side is set aside: the machine, not the grader, decided it), and a *false
failure* is a check that must pass and failed: any check of a reference copy, and each check an
entry of the gallery lists without expecting it to fail (its expect.toml).

It prints a markdown table, then what the measured passes predict for 200 learners on hosts of 16
and 64 cores (a simulation of the same slot schedule; its assumptions are printed with it).

This is a measurement, not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders.classroom import class_grading as cg
from graders.classroom.notebook import DEFAULT_CALL_TIMEOUT_S
from graders.grading import catalog
from graders.report.model import ExerciseResult, GradingResults, Status
from graders.tests.benchmark import GALLERY, PROJECT, submission

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

REFERENCE = "reference"
STUB = "stub"


@dataclass
class Learner:
    name: str
    # Checks that must pass (None: every check, for a reference copy; empty: nothing is promised).
    must_pass: set[str] | None


@dataclass
class Leg:
    name: str
    seconds: float = 0.0
    results: dict[str, ExerciseResult | None] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    processes: str = ""
    # learner -> seconds of each grading process (one by one: one per learner)
    passes: dict[str, list[dict]] = field(default_factory=dict)

    def inconclusive(self) -> int:
        return sum(c.status is Status.INCONCLUSIVE for r in self.results.values() if r for c in r.checks)

    def false_failures(self, learners: list[Learner]) -> list[str]:
        found = []
        for learner in learners:
            result = self.results.get(learner.name)
            if learner.must_pass is not None and not learner.must_pass:
                continue
            if result is None:
                found.append(f"{learner.name}: not graded ({self.outcomes.get(learner.name)})")
                continue
            for check in result.checks:
                wanted = learner.must_pass is None or check.name in learner.must_pass
                if wanted and check.status is Status.FAILED:
                    found.append(f"{learner.name}/{check.name}: {check.message[:160]}")
        return found


def build_class(root: Path, exercise: catalog.Exercise, size: int) -> list[Learner]:
    learners = [Learner(REFERENCE, None), Learner(STUB, set())]
    submission(root / REFERENCE, exercise.name)
    shutil.copytree(PROJECT / "exercises" / exercise.name, root / STUB / exercise.name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    for entry in sorted(p for p in (GALLERY / exercise.name).iterdir() if (p / "expect.toml").is_file()):
        if len(learners) >= size:
            break
        expect = tomllib.loads((entry / "expect.toml").read_text(encoding="utf-8"))
        submission(root / entry.name, exercise.name, overlay=entry)
        learners.append(Learner(entry.name, set(expect["checks"]) - set(expect.get("fail", {}))))
    copy = 2
    while len(learners) < size:
        name = f"{REFERENCE}-{copy}"
        submission(root / name, exercise.name)
        learners.append(Learner(name, None))
        copy += 1
    return learners


def one_by_one(root: Path, exercise: catalog.Exercise, seed: int, timeout: float, call_timeout: float) -> Leg:
    """Each submission in turn on the whole machine; then, as an instructor would, the inconclusive checks once more."""
    leg = Leg("one by one")
    submissions = cg.find_submissions(root, exercise, seed=seed)
    started = time.monotonic()
    for index, sub in enumerate(submissions, 1):
        answer = cg.run_grading(cg.GradingJob(exercise.name, sub.files, timeout=timeout, call_timeout=call_timeout, seed=seed))
        leg.results[sub.learner] = cg.exercise_result(answer, exercise.name)
        leg.outcomes[sub.learner] = answer["outcome"]
        leg.passes[sub.learner] = [{"pass": "whole", "seconds": answer["seconds"]}]
        print(f"  one by one {index}/{len(submissions)}: {sub.learner} {answer['seconds']:.1f} s", file=sys.stderr, flush=True)
    regraded = 0
    for sub in submissions:
        result = leg.results[sub.learner]
        again = tuple(c.name for c in (result.checks if result else ()) if c.status is Status.INCONCLUSIVE)
        if not again:
            continue
        answer = cg.run_grading(cg.GradingJob(exercise.name, sub.files, checks=again, timeout=timeout, call_timeout=call_timeout, seed=seed))
        later = cg.exercise_result(answer, exercise.name)
        if later is not None:
            leg.results[sub.learner] = cg.merge(result, later)
        leg.passes[sub.learner].append({"pass": "regrade", "seconds": answer["seconds"]})
        regraded += 1
        print(f"  one by one, again: {sub.learner} {', '.join(again)} {answer['seconds']:.1f} s", file=sys.stderr, flush=True)
    leg.seconds = time.monotonic() - started
    leg.processes = f"{len(submissions)} whole" + (f" + {regraded} regrade" if regraded else "")
    return leg


def on_the_cluster(root: Path, exercise: catalog.Exercise, seed: int, timeout: float, call_timeout: float,
                   out: Path, slots: int | None, lanes: int | None) -> tuple[Leg, dict]:
    leg = Leg("on the cluster")
    command = [sys.executable, "-m", "graders", "class", "grade", str(root), "--exercise", exercise.name,
               "--out", str(out), "--seed", str(seed), "--timeout", f"{timeout:g}", "--call-timeout", f"{call_timeout:g}",
               "--dashboard-address", ":0"]
    command += ["--slots", str(slots)] if slots else []
    command += ["--lanes", str(lanes)] if lanes else []
    started = time.monotonic()
    finished = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, check=False)
    leg.seconds = time.monotonic() - started
    print(finished.stdout, file=sys.stderr)
    if finished.returncode != 0:
        raise SystemExit(f"the class command failed (exit code {finished.returncode})")
    run = json.loads((out / "class-run.json").read_text(encoding="utf-8"))
    for learner, facts in run["learners"].items():
        report = out / "learners" / learner / "grading-report.json"
        leg.results[learner] = GradingResults.read(report).exercise(exercise.name) if report.exists() else None
        leg.outcomes[learner] = facts["outcome"]
        leg.passes[learner] = facts["passes"]
    counts = {}
    for passes in leg.passes.values():
        for one in passes:
            counts[one["pass"]] = counts.get(one["pass"], 0) + 1
    leg.processes = " + ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
    return leg, run


def compare(first: Leg, second: Leg) -> tuple[int, int, list[str]]:
    """(verdicts compared, set aside as inconclusive, differences)."""
    compared = aside = 0
    differences = []
    for learner, result in first.results.items():
        other = second.results.get(learner)
        if result is None or other is None:
            if (result is None) != (other is None):
                differences.append(f"{learner}: graded by one leg only ({first.outcomes.get(learner)} / {second.outcomes.get(learner)})")
            continue
        for check in result.checks:
            theirs = other.check(check.name)
            if theirs is None:
                differences.append(f"{learner}/{check.name}: missing on {second.name}")
            elif Status.INCONCLUSIVE in (check.status, theirs.status):
                aside += 1
            elif check.status is theirs.status:
                compared += 1
            else:
                compared += 1
                differences.append(f"{learner}/{check.name}: {check.status} {first.name}, {theirs.status} {second.name}")
    return compared, aside, differences


def table(learners: list[Learner], legs: list[Leg], slots_text: str) -> str:
    rows = [
        ("submissions", [str(len(leg.results)) for leg in legs]),
        ("wall time", [cg._duration(leg.seconds) for leg in legs]),
        ("submissions per minute", [f"{len(leg.results) / leg.seconds * 60:.2f}" for leg in legs]),
        ("grading processes", [leg.processes for leg in legs]),
        ("checks inconclusive at the end", [str(leg.inconclusive()) for leg in legs]),
        ("false failures", [str(len(leg.false_failures(learners))) for leg in legs]),
    ]
    lines = [f"| | {' | '.join(leg.name for leg in legs)} |", "|---|" + "---|" * len(legs)]
    lines += [f"| {label} | {' | '.join(values)} |" for label, values in rows]
    return "\n".join(lines) + f"\n\nCluster: {slots_text}."


# ------------------------------------------------------------------------------------------------
# The slot design on bigger hosts, by simulation
# ------------------------------------------------------------------------------------------------


def simulate(passes: dict[str, list[dict]], learners: int, slots: int, lanes: int) -> float:
    """Seconds the class command's schedule takes for ``learners`` (the measured class, cycled).

    First passes go to the first free lane of ``slots`` x ``lanes``, then each timed pass to the first
    idle slot once no first pass is left to start, then the regrades one after another; each pass
    takes the time it took in the measured run (a first pass measured as here, beside ``lanes - 1``
    others on a slot's cores).
    """
    import heapq

    measured = list(passes.values())
    cycle = [measured[index % len(measured)] for index in range(learners)]
    lane_free = [0.0] * (slots * lanes)
    heapq.heapify(lane_free)
    first_done = []
    for runs in cycle:
        start = heapq.heappop(lane_free)
        end = start + sum(p["seconds"] for p in runs if p["pass"] == "side_by_side")
        heapq.heappush(lane_free, end)
        first_done.append(end)
    side_end = max(lane_free)
    slot_free = [side_end] * slots  # a timed pass starts once no first pass is left to start (approximated by their end)
    heapq.heapify(slot_free)
    for runs, ready in zip(cycle, first_done):
        for timed in (p for p in runs if p["pass"] == "timed"):
            start = max(heapq.heappop(slot_free), ready)
            heapq.heappush(slot_free, start + timed["seconds"])
    regrades = sum(p["seconds"] for runs in cycle for p in runs if p["pass"] == "regrade")
    return max(slot_free) + regrades


def scaling(passes: dict[str, list[dict]], one_by_one: dict[str, list[dict]], slot_cores: int, lanes: int) -> str:
    per_learner = sum(p["seconds"] for runs in one_by_one.values() for p in runs) / max(len(one_by_one), 1)
    # (the one-by-one regrades are counted in: grading a class one by one includes them)
    lines = [
        f"| host cores | slots of {slot_cores} cores x {lanes} lanes | one by one | projected class time (200 learners) | speedup |",
        "|---|---|---|---|---|",
    ]
    for cores in (2, 16, 64):
        slots = max(1, cores // slot_cores)
        seconds = simulate(passes, 200, slots, lanes)
        alone = per_learner * 200
        lines.append(f"| {cores} | {slots} | {cg._duration(alone)} | {cg._duration(seconds)} | {alone / seconds:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", default="02_multiprocessing")
    parser.add_argument("--size", type=int, default=40, help="submissions in the class (default 40)")
    parser.add_argument("--seed", type=int, default=20240601, help="the --grading-seed of every grading")
    parser.add_argument("--slots", type=int, help="LocalCluster slots (default: the command's)")
    parser.add_argument("--lanes", type=int, help="first-pass gradings side by side per slot (default: the command's)")
    parser.add_argument("--timeout", type=float, default=cg.DEFAULT_TIMEOUT_S)
    parser.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT_S)
    parser.add_argument("--keep", type=Path, help="keep the class and the cluster's outputs in this folder")
    args = parser.parse_args(argv)
    exercise = catalog.exercises()[args.exercise]
    with tempfile.TemporaryDirectory(prefix="graders-class-benchmark-") as scratch:
        root = Path(args.keep or scratch)
        classroom = root / "class"
        learners = build_class(classroom, exercise, args.size)
        loads = [os.getloadavg()[0]]
        print(f"class of {len(learners)} submissions of {exercise.name}; load average {loads[-1]:.1f}", file=sys.stderr)
        sequential = one_by_one(classroom, exercise, args.seed, args.timeout, args.call_timeout)
        loads.append(os.getloadavg()[0])
        cluster, run = on_the_cluster(classroom, exercise, args.seed, args.timeout, args.call_timeout, root / "out", args.slots, args.lanes)
        loads.append(os.getloadavg()[0])
    slot_text = ", ".join(f"{len(s['cores'])} cores x {s['lanes']} lanes" for s in run["slots"])
    slot_text = (f"LocalCluster of {len(run['slots'])} slot(s) ({slot_text}) on {len(os.sched_getaffinity(0))} CPUs; "
                 f"1-minute load average {loads[0]:.1f} before, {loads[1]:.1f} between the legs, {loads[2]:.1f} after")
    compared, aside, differences = compare(sequential, cluster)
    print(f"\n## Class grading: {exercise.name}, {len(learners)} submissions\n")
    print(table(learners, [sequential, cluster], slot_text))
    print(f"\nSpeedup: {sequential.seconds / cluster.seconds:.2f}x. Verdicts: {compared} compared, {aside} set aside "
          f"(inconclusive on one side); {'all matched' if not differences else f'{len(differences)} differ'}.")
    for line in differences:
        print(f"- differs: {line}")
    for leg in (sequential, cluster):
        for line in leg.false_failures(learners):
            print(f"- false failure ({leg.name}): {line}")
    slot = run["slots"][0]
    print("\n### The same schedule on bigger hosts (simulation)\n")
    print(scaling(cluster.passes, sequential.passes, len(slot["cores"]), slot["lanes"]))
    print(
        "\nAssumptions: each pass takes the time it took here (a first pass beside "
        f"{slot['lanes'] - 1} other(s) on a slot's {len(slot['cores'])} cores, a timed pass alone on them), the class "
        "is this one cycled to 200 learners, one-by-one grading on a bigger host takes what it took here per "
        "submission (its speed checks time fixed workloads), and hosts share nothing that slows a slot (memory "
        "bandwidth, disks, the scheduler's few milliseconds per task are left out)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
