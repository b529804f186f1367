"""How far the graders can be trusted on this machine: false failures, false passes, speedups.

    python -m graders.tests.benchmark --runs 50                      # the full trial (long)
    python -m graders.tests.benchmark --runs 3 --exercises 02_multiprocessing --loads idle hog one-core
    python -m graders.tests.benchmark --runs 0 --seeds 20               # does any gallery verdict depend on the seed?

For every exercise, start method and load, it grades the reference solutions ``--runs`` times (a
check that fails there is a false failure; "inconclusive" is counted apart) and every wrong
solution of the gallery once per start method (an expected failure that passes is a false pass).
Loads: ``idle``; ``hog``, a CPU-bound process pinned to core 0 beside the grader, stopped after
each run; ``one-core``, the grader pinned to core 0 (``taskset -c 0``), where speed checks must be
skipped and the structural checks decide alone; ``user-threads``, the grader run as an ordinary
user (as root: the user ``graders-learner`` from its venv, see ``graders.tests.ordinary_user``; set it up
with ``python -m graders.tests.unprivileged setup``) while a program of that user holds 300 threads,
as a browser or an IDE does (Linux counts a user's threads against its process limit; root is exempt).
The gallery is graded idle, and also under ``user-threads`` when that load is asked for.

``--seeds N`` grades each gallery entry under N fixed ``--grading-seed`` values (``--first-seed``,
the next ones) instead of a new seed per run, and lists every entry whose verdict changed with the
seed: a check that passes or fails depending on the random inputs (a speed check's "inconclusive"
is the machine's doing, not the seed's, and is not counted as a change).

It prints two markdown tables: the tally per exercise, then the speed checks' outcomes and speedups
load by load; then the seed-dependent verdicts, when seeds were given.

This is a measurement, not a test: nothing here asserts a wall time.
"""
from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders.grading import catalog
from graders.tests import ordinary_user
from graders.grading.settings import START_METHODS
from graders.report.model import CheckResult, GradingResults, Status

PROJECT = Path(__file__).resolve().parents[2]
GALLERY = PROJECT / "graders" / "tests" / "gallery"
LOADS = ("idle", "hog", "one-core", "user-threads")
USER_LOAD = "user-threads"


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
    # "entry (load/method)" -> check -> seed -> outcome, when gallery entries are graded under fixed seeds
    seeded: dict[str, dict[str, dict[int, str]]] = field(default_factory=dict)

    @property
    def speedups(self) -> list[float]:
        return [speedup for timed in self.load_speedups.values() for speedup in timed]


def grade(
    folder: Path, start_method: str, load: str, extra: list[str], learner: ordinary_user.Learner | None = None
) -> tuple[dict, float]:
    """Grade ``folder`` under ``load``; the ``user-threads`` load needs the ordinary ``learner``."""
    if load == USER_LOAD:
        return _grade_as_learner(folder, start_method, extra, learner)
    # Where a gallery entry that tries to escape its sandbox writes: the folder being graded.
    env = {**os.environ, "GALLERY_SUBMISSION_FOLDER": str(folder)}
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, *_pytest_arguments(folder, start_method, report, extra)]
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
        return _read_report(report), wall


def _grade_as_learner(
    folder: Path, start_method: str, extra: list[str], learner: ordinary_user.Learner | None
) -> tuple[dict, float]:
    if learner is None:
        raise ValueError(f"the {USER_LOAD} load needs the ordinary user")
    with learner.scratch() as scratch, ordinary_user.busy_user(learner):
        report = scratch / "report.json"
        command = [str(learner.python), *_pytest_arguments(folder, start_method, report, extra)]
        started = time.monotonic()
        learner.run(command, cwd=scratch, env={"GALLERY_SUBMISSION_FOLDER": str(folder)}, timeout=900, capture=True)
        wall = time.monotonic() - started
        return _read_report(report), wall


def _pytest_arguments(folder: Path, start_method: str, report: Path, extra: list[str]) -> list[str]:
    return ["-m", "pytest", str(folder), "-q", "-p", "no:cacheprovider",
            "--start-method", start_method, "--grading-report", str(report), *extra]


def _read_report(report: Path) -> GradingResults:
    try:
        return GradingResults.read(report)
    except (OSError, ValueError, KeyError, TypeError):
        return GradingResults()


def submission(root: Path, exercise: str, overlay: Path | None = None) -> Path:
    """A copy of the reference solution of ``exercise`` in ``root``, with a gallery entry's modules on top.

    An entry's module is appended to the solution module of the same name, so what it defines
    replaces the solution's definitions (the rule the project's gallery test follows too).
    """
    folder = root / exercise
    shutil.copytree(PROJECT / "solutions" / exercise, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if overlay is not None:
        for module in overlay.glob("*.py"):
            target = folder / module.name
            base = target.read_text(encoding="utf-8") + "\n\n" if target.exists() else ""
            target.write_text(base + module.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _start_hog() -> subprocess.Popen:
    # Bounded: it is killed after the run, and ends by itself after 15 minutes anyway.
    code = "import os, time\nos.sched_setaffinity(0, {0})\nend = time.time() + 900\nwhile time.time() < end: pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def checks_of(report: GradingResults) -> dict[str, CheckResult]:
    return {c.name: c for e in report.exercises for c in e.checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="reference-solution runs per start method and load")
    parser.add_argument("--exercises", nargs="*", default=sorted(catalog.exercises()))
    parser.add_argument("--start-methods", nargs="*", default=list(START_METHODS))
    parser.add_argument("--loads", nargs="*", default=list(LOADS), choices=LOADS)
    parser.add_argument("--no-gallery", action="store_true", help="skip the wrong solutions")
    parser.add_argument("--seeds", type=int, default=0, metavar="N",
                        help="grade each gallery entry under N fixed grading seeds and list the verdicts that changed with the seed")
    parser.add_argument("--first-seed", type=int, default=1, help="the first of the --seeds seeds (the others follow it)")
    parser.add_argument("--entries", nargs="*", default=["*"], metavar="PATTERN",
                        help="grade only the gallery entries whose folder name matches one of these patterns")
    args = parser.parse_args(argv)
    # A benchmark stopped from outside still stops what it started (the busy user's program, the hog).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    seeds = [args.first_seed + i for i in range(args.seeds)] or [None]
    gallery_loads = ["idle"] + ([USER_LOAD] if USER_LOAD in args.loads else [])

    with _ordinary_user(USER_LOAD in args.loads) as learner:
        rows = []
        for exercise in args.exercises:
            tally = Tally()
            for load in args.loads:
                # As the ordinary user, its own copy of the project is graded (the same files).
                project = learner.project if load == USER_LOAD else PROJECT
                for method in args.start_methods:
                    for _ in range(args.runs):
                        report, wall = grade(project / "solutions" / exercise, method, load, [], learner)
                        _count_reference(tally, report, wall, load, method)
            if not args.no_gallery:
                for load in gallery_loads:
                    for method in args.start_methods:
                        for entry in sorted((GALLERY / exercise).glob("*/expect.toml")):
                            if not any(fnmatch.fnmatch(entry.parent.name, p) for p in args.entries):
                                continue
                            for seed in seeds:
                                _count_wrong(tally, exercise, entry, method, load, seed, learner)
            rows.append((exercise, tally))
            # A long trial can be cut short: what is done so far is already on stderr.
            print(table(rows), file=sys.stderr, flush=True)
    print(table(rows))
    return 0


@contextlib.contextmanager
def _ordinary_user(wanted: bool):
    if not wanted:
        yield None
        return
    try:
        with ordinary_user.prepared(PROJECT) as learner:
            yield learner
    except ordinary_user.NotReady as problem:
        raise SystemExit(f"the {USER_LOAD} load cannot run: {problem}") from None


def _count_reference(tally: Tally, report: GradingResults, wall: float, load: str, method: str) -> None:
    where = f"{load}/{method}"
    tally.runs += 1
    tally.wall.append(wall)
    checks = checks_of(report)
    if not checks:
        tally.false_failures += 1
        tally.notes.append(f"{where}: no report")
        return
    failed = [n for n, c in checks.items() if c.status is Status.FAILED]
    tally.inconclusive += sum(c.status is Status.INCONCLUSIVE for c in checks.values())
    if failed:
        tally.false_failures += 1
        tally.notes.append(f"{where}: {', '.join(failed)}: {checks[failed[0]].message[:160]}")
    outcomes = tally.speed_outcomes.setdefault(load, [])
    outcomes += [c.status.value for n, c in checks.items() if n.endswith("speedup")]
    for exercise in report.exercises:
        for speed in exercise.speed:
            tally.load_speedups.setdefault(load, []).append(speed["speedup"])
            tally.required = speed["required"]


def _count_wrong(
    tally: Tally,
    exercise: str,
    expect_file: Path,
    method: str,
    load: str = "idle",
    seed: int | None = None,
    learner: ordinary_user.Learner | None = None,
) -> None:
    expect = _toml(expect_file)
    must_fail = expect.get("fail", {})
    if not must_fail or ("start_method" in expect and expect["start_method"] != method):
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = submission(Path(scratch), exercise, overlay=expect_file.parent)
        if load == USER_LOAD and learner is not None:
            # The learner's own folder: an entry that writes beside itself must be able to.
            learner.own(Path(scratch))
        extra = ["-k", " or ".join(f"test_{n}" for n in expect["checks"]), *expect.get("options", [])]
        if seed is not None:
            extra += ["--grading-seed", str(seed)]
        report, _ = grade(folder, method, load, extra, learner)
    tally.wrong_runs += 1
    checks = checks_of(report)
    where = f"{expect_file.parent.name} ({load}/{method}" + (f", seed {seed})" if seed is not None else ")")
    passed = [n for n, c in checks.items() if n in must_fail and c.status is Status.PASSED]
    if passed:
        tally.false_passes += 1
        tally.notes.append(f"{where}: {', '.join(passed)} passed")
    if seed is not None:
        verdicts = tally.seeded.setdefault(f"{exercise}/{expect_file.parent.name} ({load}/{method})", {})
        for name in expect["checks"]:
            verdicts.setdefault(name, {})[seed] = checks[name].status.value if name in checks else "missing"


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
    return "\n".join(lines + ([""] + notes if notes else []) + by_load(rows) + seed_dependent(rows))


def seed_dependent(rows) -> list[str]:
    """The gallery verdicts that changed with the grading seed (when entries were graded under seeds)."""
    graded = {entry: checks for _, t in rows for entry, checks in t.seeded.items()}
    if not graded:
        return []
    seeds = sorted({seed for checks in graded.values() for by_seed in checks.values() for seed in by_seed})
    changed = []
    for entry, checks in graded.items():
        for name, by_seed in checks.items():
            # "inconclusive" says the machine was too busy to time, whatever the seed: not a change.
            if len({o for o in by_seed.values() if o != "inconclusive"}) > 1:
                seen = ", ".join(f"{o} with seed {s}" for s, o in sorted(by_seed.items()))
                changed.append(f"- {entry}: {name}: {seen}")
    head = f"Gallery verdicts under {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), {len(graded)} entry, load and start-method combinations:"
    return ["", head, *(changed or ["- no verdict changed with the seed"])]


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
