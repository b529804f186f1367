"""How far the graders can be trusted on this machine: false failures, false passes, speedups.

    python -m graders.benchmark --runs 50                      # the full trial (long)
    python -m graders.benchmark --runs 3 --exercises 02_multiprocessing --loads idle hog one-core

For every exercise, start method and load, it grades the reference solutions ``--runs`` times (a
check that fails there is a false failure; "inconclusive" is counted apart) and every wrong
solution of the gallery once per start method (an expected failure that passes is a false pass).
Loads: ``idle``; ``hog``, a CPU-bound process pinned to core 0 beside the grader, stopped after
each run; ``one-core``, the grader pinned to core 0 (``taskset -c 0``), where speed checks must be
skipped and the structural checks decide alone. It prints two markdown tables: the tally per
exercise, then the speed checks' outcomes and speedups load by load.

This is a measurement, not a test: nothing here asserts a wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders import catalog
from graders.settings import START_METHODS
from graders.tests.submissions import submission

PROJECT = Path(__file__).resolve().parents[1]
GALLERY = PROJECT / "graders" / "tests" / "gallery"
LOADS = ("idle", "hog", "one-core")


@dataclass
class Tally:
    runs: int = 0
    false_failures: int = 0
    inconclusive: int = 0
    wrong_runs: int = 0
    false_passes: int = 0
    required: float | None = None
    wall: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # load -> outcome of each speed check ("passed", "inconclusive", "skipped"...) and the speedups timed
    speed_outcomes: dict[str, list[str]] = field(default_factory=dict)
    load_speedups: dict[str, list[float]] = field(default_factory=dict)

    @property
    def speedups(self) -> list[float]:
        return [speedup for timed in self.load_speedups.values() for speedup in timed]


def grade(folder: Path, start_method: str, load: str, extra: list[str]) -> tuple[dict, float]:
    # Where a gallery entry that tries to escape its sandbox writes: the folder being graded.
    env = {**os.environ, "GALLERY_SUBMISSION_FOLDER": str(folder)}
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pytest", str(folder), "-q", "-p", "no:cacheprovider",
                   "--start-method", start_method, "--grading-report", str(report), *extra]
        if load == "one-core":
            command = ["taskset", "-c", "0", *command]
        hog = _start_hog() if load == "hog" else None
        started = time.monotonic()
        try:
            subprocess.run(
                command, cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900, check=False
            )
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        wall = time.monotonic() - started
        return (json.loads(report.read_text()) if report.exists() else {"exercises": []}), wall


def _start_hog() -> subprocess.Popen:
    # Bounded: it is killed after the run, and ends by itself after 15 minutes anyway.
    code = "import os, time\nos.sched_setaffinity(0, {0})\nend = time.time() + 900\nwhile time.time() < end: pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def checks_of(report: dict) -> dict[str, dict]:
    return {c["name"]: c for e in report["exercises"] for c in e["checks"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="reference-solution runs per start method and load")
    parser.add_argument("--exercises", nargs="*", default=sorted(catalog.exercises()))
    parser.add_argument("--start-methods", nargs="*", default=list(START_METHODS))
    parser.add_argument("--loads", nargs="*", default=list(LOADS), choices=LOADS)
    parser.add_argument("--no-gallery", action="store_true", help="skip the wrong solutions")
    args = parser.parse_args(argv)

    rows = []
    for exercise in args.exercises:
        tally = Tally()
        for load in args.loads:
            for method in args.start_methods:
                for _ in range(args.runs):
                    report, wall = grade(PROJECT / "solutions" / exercise, method, load, [])
                    _count_reference(tally, report, wall, load, method)
        if not args.no_gallery:
            for method in args.start_methods:
                for entry in sorted((GALLERY / exercise).glob("*/expect.toml")):
                    _count_wrong(tally, exercise, entry, method)
        rows.append((exercise, tally))
        # A long trial can be cut short: what is done so far is already on stderr.
        print(table(rows), file=sys.stderr, flush=True)
    print(table(rows))
    return 0


def _count_reference(tally: Tally, report: dict, wall: float, load: str, method: str) -> None:
    where = f"{load}/{method}"
    tally.runs += 1
    tally.wall.append(wall)
    checks = checks_of(report)
    if not checks:
        tally.false_failures += 1
        tally.notes.append(f"{where}: no report")
        return
    failed = [n for n, c in checks.items() if c["outcome"] not in ("passed", "inconclusive", "skipped")]
    tally.inconclusive += sum(c["outcome"] == "inconclusive" for c in checks.values())
    if failed:
        tally.false_failures += 1
        tally.notes.append(f"{where}: {', '.join(failed)}: {checks[failed[0]]['message'][:160]}")
    outcomes = tally.speed_outcomes.setdefault(load, [])
    outcomes += [c["outcome"] for n, c in checks.items() if n.endswith("speedup")]
    for exercise in report["exercises"]:
        for speed in exercise.get("speed", []):
            tally.load_speedups.setdefault(load, []).append(speed["speedup"])
            tally.required = speed["required"]


def _count_wrong(tally: Tally, exercise: str, expect_file: Path, method: str) -> None:
    expect = _toml(expect_file)
    must_fail = expect.get("fail", {})
    if not must_fail or ("start_method" in expect and expect["start_method"] != method):
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = submission(Path(scratch), exercise, overlay=expect_file.parent)
        extra = ["-k", " or ".join(f"test_{n}" for n in expect["checks"]), *expect.get("options", [])]
        report, _ = grade(folder, method, "idle", extra)
    tally.wrong_runs += 1
    passed = [n for n, c in checks_of(report).items() if n in must_fail and c["outcome"] == "passed"]
    if passed:
        tally.false_passes += 1
        tally.notes.append(f"{expect_file.parent.name}/{method}: {', '.join(passed)} passed")


def _toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads(path.read_text(encoding="utf-8"))


def table(rows) -> str:
    lines = [
        "| exercise | runs | false failures | inconclusive checks | wrong runs | false passes | speedup min/median/max (required) | median speedup / cores | grader wall s (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    cores = len(os.sched_getaffinity(0))
    for exercise, t in rows:
        speed = (
            f"{min(t.speedups):.2f} / {statistics.median(t.speedups):.2f} / {max(t.speedups):.2f} ({t.required:.2f})"
            if t.speedups else "n/a"
        )
        ideal = f"{statistics.median(t.speedups) / cores:.2f}" if t.speedups else "n/a"
        wall = f"{statistics.median(t.wall):.1f}" if t.wall else "n/a"
        lines.append(
            f"| {exercise} | {t.runs} | {t.false_failures} | {t.inconclusive} | {t.wrong_runs} | {t.false_passes} | {speed} | {ideal} | {wall} |"
        )
    notes = [f"- {exercise}: {note}" for exercise, t in rows for note in t.notes]
    return "\n".join(lines + ([""] + notes if notes else []) + by_load(rows))


def by_load(rows) -> list[str]:
    """The speed checks of the reference runs, load by load: where "inconclusive" comes from."""
    lines = [
        "",
        "| exercise | load | speed checks | passed | inconclusive | skipped | speedup min/median/max |",
        "|---|---|---|---|---|---|---|",
    ]
    for exercise, t in rows:
        for load, outcomes in t.speed_outcomes.items():
            if not outcomes:
                continue
            timed = t.load_speedups.get(load, [])
            speed = f"{min(timed):.2f} / {statistics.median(timed):.2f} / {max(timed):.2f}" if timed else "n/a"
            counts = " | ".join(str(outcomes.count(o)) for o in ("passed", "inconclusive", "skipped"))
            lines.append(f"| {exercise} | {load} | {len(outcomes)} | {counts} | {speed} |")
    return lines if len(lines) > 3 else []


if __name__ == "__main__":
    sys.exit(main())
