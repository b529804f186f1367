"""Grading a whole class on Dask, with speed measured fairly on shared hardware.

    python -m graders class grade SUBMISSIONS --exercise NN_topic --out DIR [--scheduler ADDRESS] [--slots N]

Graded one after another, a class takes hours, and a busy machine costs correct solutions their speed
points. Here the grading of each submission is split by what the machine's load can change:

- **Slots.** Each Dask worker is a *slot*: a disjoint set of cores of its host (the host's cores split
  evenly among the workers on it, hyperthread siblings kept together). Everything a slot runs is
  pinned to its cores, so the grader's "usable cores" (graders.grading.settings.usable_cores reads the
  CPU affinity) is the slot's, and the required speedup is the same for every learner.
- **First pass, side by side.** Every check runs, in one grading process per submission, several of
  them at once per slot (the worker's threads, its *lanes*): results, structure, leftovers, and each
  speed check up to the point where it would start timing (graders.classroom.class_timing). Nothing
  in this pass depends on load, and a submission that hangs waits out its call timeouts here, beside
  other work.
- **Second pass, cores of its own.** The speed checks the first pass deferred are timed in a second
  grading process, one per slot, with no other work on the slot's cores.
- **Regrade.** A speed check still inconclusive (the host was busy with something else) is graded
  again at the end, one submission at a time on a slot's cores, with the whole cluster idle. It is
  timed on a slot, not on the whole host, so that its required speedup stays the one every other
  learner was graded against.

Each grading process has a deadline and is killed with every process it started when it overruns
(graders.classroom.notebook's command and process-tree killer). A task carries the module files
themselves, not a path, so workers on other machines need the project installed, not the
submissions' folder.

SUBMISSIONS is a folder of learner folders (each graded as ``--target`` would take it: the modules
directly, or in a folder named after the exercise) or an nbgrader course's ``submitted/`` tree (the
modules are taken from each notebook's ``%%writefile`` cells, as the notebook's test cells take
them). Results: ``grades.csv`` (one row per learner), and per learner the grading report and
Gradescope's ``results.json``; for an nbgrader course, the gradebook (graders.classroom.class_gradebook).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Callable

from graders.grading import catalog
from graders.report.model import CheckResult, ExerciseResult, GradingResults, Status

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_SLOT_CORES = 2
# A slot needs two cores for a speedup to be measured: on one, the grader skips its speed checks and
# gives their points, which sequential grading on a bigger machine would not.
MIN_SLOT_CORES = 2
# A task the worker has not answered this long after its grading deadline: the worker is gone or stuck.
WORKER_GRACE_S = 120.0
# The module files of one submission, at most (a task carries them to the worker).
MAX_FILES_BYTES = 4 * 1024 * 1024
# Python files of a learner folder that are not the learner's modules.
_NOT_MODULES = re.compile(r"(conftest|setup)\.py|test_.*\.py")


class Outcome(str, Enum):
    """One learner's grading as a whole."""

    GRADED = "graded"
    # A speed check could not be judged even when graded again on a quiet cluster: 0 points until regraded.
    INCONCLUSIVE = "inconclusive"
    # A grading process ended without a report (or its worker died): every check it had left scores 0.
    CRASHED = "crashed"
    # A grading process overran its deadline and was killed.
    TIMED_OUT = "timed out"

    __str__ = str.__str__
    __format__ = str.__format__


# ----------------------------------------------------------------------------------------------
# What was handed in
# ----------------------------------------------------------------------------------------------


@dataclass
class Submission:
    """One learner's hand-in: its module files, read once by the client and sent to a worker."""

    learner: str
    source: Path
    files: dict[str, str]
    seed: int
    # What the client noticed while reading it (no module found, an unreadable notebook...).
    note: str = ""


def find_submissions(root: Path, exercise: catalog.Exercise, assignment: str | None = None, seed: int | None = None) -> list[Submission]:
    """Every learner folder under ``root``, in name order, with the files to grade.

    A learner folder holds the exercise's modules (directly, or in a folder named after the
    exercise), or a notebook (``<assignment>/<notebook>.ipynb`` as nbgrader's ``submitted/`` tree
    has it, or directly): then the files its ``%%writefile`` cells save are graded.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of submissions")
    chooser = random.Random(seed)
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        files, note, source = read_submission(folder, exercise, assignment or exercise.name)
        found.append(Submission(folder.name, source, files, seed if seed is not None else chooser.randrange(10**6), note))
    if not found:
        raise ValueError(f"{root} holds no learner folder")
    return found


def read_submission(folder: Path, exercise: catalog.Exercise, assignment: str) -> tuple[dict[str, str], str, Path]:
    """(files, note, what was read) for one learner folder."""
    modules = exercise.folder_in(folder)
    if any((modules / f"{m}.py").is_file() for m in exercise.modules):
        files = {
            p.name: p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(modules.glob("*.py")) if p.is_file() and not _NOT_MODULES.fullmatch(p.name)
        }
        return _capped(files, modules)
    notebook = _notebook_in(folder, assignment)
    if notebook is None:
        return {}, f"no module of {exercise.name} and no notebook found", folder
    try:
        import nbformat

        from graders.classroom.autograde import saved_files

        files = saved_files(nbformat.read(notebook, as_version=4))
    except Exception as exc:  # an unreadable notebook is graded as an empty hand-in, and said so
        return {}, f"{notebook.name} could not be read ({type(exc).__name__}: {exc})", notebook
    files, note, _ = _capped(files, notebook)
    if not files:
        note = note or f"{notebook.name} has no %%writefile cell"
    return files, note, notebook


def _notebook_in(folder: Path, assignment: str) -> Path | None:
    for place in (folder / assignment, folder):
        notebooks = sorted(p for p in place.glob("*.ipynb") if p.is_file()) if place.is_dir() else []
        named = [p for p in notebooks if p.stem == assignment]
        if named or len(notebooks) == 1:
            return (named or notebooks)[0]
        if notebooks:
            return notebooks[0]
    return None


def _capped(files: dict[str, str], source: Path) -> tuple[dict[str, str], str, Path]:
    size = sum(len(text.encode()) for text in files.values())
    if size > MAX_FILES_BYTES:
        return {}, f"the files add up to {size} bytes, more than the {MAX_FILES_BYTES} a submission may have", source
    return files, "", source


# ----------------------------------------------------------------------------------------------
# One grading process (runs on a worker; the benchmark's one-by-one leg runs it directly)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradingJob:
    """What one grading process is asked to do. Plain data: it travels to a Dask worker."""

    exercise: str
    files: dict
    checks: tuple = ()
    # First pass: speed checks stop before timing (graders.classroom.class_timing).
    defer_speed: bool = False
    # The cores the process (and everything it starts) is pinned to; None: left as it is.
    cores: tuple | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    call_timeout: float | None = None
    start_method: str | None = None
    seed: int | None = None
    # Variables set (value) or removed (None) in the grading process's environment.
    environment: tuple = ()


# The grading processes this process is running (a worker stops them when it closes: class_worker).
RUNNING: set = set()


def stop_running() -> None:
    """Kill every grading process this process started that is still running, with all it started."""
    from graders.classroom.notebook import kill_tree

    for proc in list(RUNNING):
        with contextlib.suppress(Exception):
            kill_tree(proc)
        RUNNING.discard(proc)


def run_grading(job: GradingJob) -> dict:
    """Grade ``job.files`` with the installed grader in a subprocess; return plain data.

    ``{"outcome": "graded" | "crashed" | "timed out", "report": GradingResults dict or None,
    "problem": str, "seconds": float, "cores": [...], "host": str}``.
    """
    from graders.classroom.notebook import kill_tree, grader_command

    exercise = catalog.exercises()[job.exercise]
    started = time.monotonic()
    answer = {"outcome": Outcome.GRADED.value, "report": None, "problem": "", "seconds": 0.0,
              "cores": list(job.cores or ()), "host": socket.gethostname()}
    scratch = tempfile.mkdtemp(prefix="graders-class-")
    try:
        target = Path(scratch) / "submission"
        modules = target / exercise.name
        modules.mkdir(parents=True)
        for name, text in job.files.items():
            if Path(name).name == name and not name.startswith("."):
                (modules / name).write_text(text, encoding="utf-8")
        report = Path(scratch) / "report.json"
        log_path = Path(scratch) / "pytest.log"
        command = grader_command(exercise, target, report, tuple(job.checks))
        if job.call_timeout is not None:
            command[command.index("--call-timeout") + 1] = f"{job.call_timeout:g}"
        command += ["--grading-history", "no"]
        if job.seed is not None:
            command += ["--grading-seed", str(job.seed)]
        if job.start_method:
            command += ["--start-method", job.start_method]
        if job.defer_speed:
            command += ["-p", "graders.classroom.class_timing"]
        env = dict(os.environ)
        env.pop("GRADERS_TARGET", None)
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in job.environment:
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        if job.cores:
            # This thread's affinity: the grading process forked from it, and all it starts, inherit it.
            os.sched_setaffinity(0, set(job.cores))
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        RUNNING.add(proc)
        try:
            proc.wait(timeout=job.timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            answer.update(outcome=Outcome.TIMED_OUT.value, problem=(
                f"the grading did not finish within {job.timeout:g} s and was stopped, with every process it "
                "started: look for an endless loop or a pool that never finishes"))
            return answer
        except BaseException:
            kill_tree(proc)
            raise
        finally:
            RUNNING.discard(proc)
        try:
            answer["report"] = GradingResults.read(report).to_dict()
        except (OSError, ValueError, KeyError, TypeError):
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            answer.update(outcome=Outcome.CRASHED.value,
                          problem=f"the grader stopped without a report (exit code {proc.returncode}): " + " | ".join(tail))
        return answer
    finally:
        answer["seconds"] = time.monotonic() - started
        shutil.rmtree(scratch, ignore_errors=True)


def grade_on_worker(job: GradingJob) -> dict:
    """The Dask task: one grading process on this worker's slot."""
    return run_grading(job)


def exercise_result(answer: dict, exercise: str) -> ExerciseResult | None:
    """The exercise's result in a grading process's answer, if it has one."""
    if not answer.get("report"):
        return None
    return GradingResults.from_dict(answer["report"]).exercise(exercise)


# ----------------------------------------------------------------------------------------------
# Slots: a worker and its cores
# ----------------------------------------------------------------------------------------------


def host_facts() -> dict:
    """Run on each worker (client.run): which machine it is on and the CPUs it may use, siblings adjacent."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return {"host": f"{socket.gethostname()}/{boot}", "name": socket.gethostname(), "cpus": ordered_cpus()}


def ordered_cpus(cpus: set[int] | None = None, sysfs: Path = Path("/sys/devices/system/cpu")) -> list[int]:
    """The CPUs this process may use, hyperthread siblings next to each other (a slot gets whole cores)."""
    if cpus is None:
        cpus = set(os.sched_getaffinity(0))

    def core_of(cpu: int) -> int:
        try:
            text = (sysfs / f"cpu{cpu}" / "topology" / "thread_siblings_list").read_text().strip()
        except OSError:
            return cpu
        return min(parse_cpu_list(text) & cpus or {cpu})

    return sorted(cpus, key=lambda cpu: (core_of(cpu), cpu))


def parse_cpu_list(text: str) -> set[int]:
    """``0-3,8`` -> {0, 1, 2, 3, 8} (the kernel's CPU list format)."""
    found: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return found


def split_cores(cpus: list[int], slots: int) -> list[tuple[int, ...]]:
    """``slots`` disjoint, equal sets of ``cpus`` (in order); the rest, if any, unused."""
    size = len(cpus) // slots if slots else 0
    if size < 1:
        raise ValueError(f"{slots} slots cannot each have a core of their own among {len(cpus)} CPUs")
    return [tuple(cpus[index * size:(index + 1) * size]) for index in range(slots)]


@dataclass
class Slot:
    address: str
    host: str
    cores: tuple[int, ...]
    lanes: int
    running: dict = field(default_factory=dict)  # future -> Task
    # The slot runs a timed pass: nothing else may run on its cores.
    exclusive: bool = False

    @property
    def free_lanes(self) -> int:
        return 0 if self.exclusive else self.lanes - len(self.running)


def speed_checks(exercise: catalog.Exercise) -> set[str]:
    """The exercise's checks that time a speedup: their test function reaches graders.grading.speed.

    Found in the grader module's code (the test function, and the module's functions it names, at any
    depth), so a new speed check is found without a list to keep up to date.
    """
    import importlib
    import inspect

    from graders.grading import speed

    module = importlib.import_module(exercise.grader)
    namespace = vars(module)

    def reaches_speed(code, seen: set) -> bool:
        for name in code.co_names:
            value = namespace.get(name)
            if value is speed or getattr(value, "__module__", None) == speed.__name__:
                return True
            if inspect.isfunction(value) and value.__module__ == module.__name__ and value.__code__ not in seen:
                seen.add(value.__code__)
                if reaches_speed(value.__code__, seen):
                    return True
        return any(inspect.iscode(const) and reaches_speed(const, seen) for const in code.co_consts)

    return {
        name.removeprefix("test_") for name, value in namespace.items()
        if name.startswith("test_") and inspect.isfunction(value) and reaches_speed(value.__code__, set())
    }


def plan_slots(client, timed: bool = True) -> tuple[list[Slot], list[str]]:
    """One slot per worker, each with an equal share of its host's CPUs; warnings to show.

    ``timed``: the exercise has speed checks, so a slot needs MIN_SLOT_CORES cores to time them.
    """
    workers = cluster_workers(client)
    if not workers:
        raise ValueError("the cluster has no worker")
    facts = client.run(host_facts)
    by_host: dict[str, list[str]] = {}
    for address in sorted(workers):
        by_host.setdefault(facts[address]["host"], []).append(address)
    slots, warnings = [], []
    for host, addresses in by_host.items():
        cpus = facts[addresses[0]]["cpus"]
        name = facts[addresses[0]]["name"]
        if len(cpus) < len(addresses):
            raise ValueError(
                f"host {name} runs {len(addresses)} workers on {len(cpus)} CPUs: each worker is a slot and needs "
                "cores of its own; start fewer (dask worker --nworkers N)"
            )
        shares = split_cores(cpus, len(addresses))
        if timed and len(shares[0]) < MIN_SLOT_CORES <= len(cpus):
            raise ValueError(
                f"host {name} runs {len(addresses)} workers on {len(cpus)} CPUs: a slot of {len(shares[0])} core cannot "
                f"time a speedup (the grader would skip the exercise's speed checks and give their points); give "
                f"each worker at least {MIN_SLOT_CORES} cores (--slots {len(cpus) // MIN_SLOT_CORES}, or dask worker "
                f"--nworkers {len(cpus) // MIN_SLOT_CORES})"
            )
        unused = len(cpus) - sum(len(s) for s in shares)
        if unused:
            warnings.append(f"host {name}: {unused} of its {len(cpus)} CPUs left unused (slots are equal)")
        for address, cores in zip(addresses, shares):
            slots.append(Slot(address, name, cores, max(1, int(workers[address].get("nthreads", 1)))))
    sizes = {len(s.cores) for s in slots}
    if len(sizes) > 1:
        warnings.append(
            f"slots of different sizes ({', '.join(map(str, sorted(sizes)))} cores): the required speedup "
            "depends on a slot's cores, so learners graded on different slots face different thresholds"
        )
    return slots, warnings


def cluster_workers(client) -> dict:
    """Every worker the scheduler knows (recent versions list only a few unless asked for all)."""
    try:
        return client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:
        return client.scheduler_info()["workers"]


# ----------------------------------------------------------------------------------------------
# The class run
# ----------------------------------------------------------------------------------------------


class Pass(int, Enum):
    SIDE_BY_SIDE = 1
    TIMED = 2
    REGRADE = 3


@dataclass
class Task:
    learner: int
    stage: Pass
    checks: tuple[str, ...] = ()
    started: float = 0.0
    attempts: int = 0


@dataclass
class LearnerGrade:
    """A learner's grading so far, then its final result."""

    submission: Submission
    result: ExerciseResult | None = None
    outcome: Outcome = Outcome.GRADED
    problem: str = ""
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    # Each grading process run for this learner: pass, seconds, host, cores, outcome.
    passes: list[dict] = field(default_factory=list)

    def inconclusive(self) -> tuple[str, ...]:
        return tuple(c.name for c in (self.result.checks if self.result else ()) if c.status is Status.INCONCLUSIVE)


@dataclass
class ClassOptions:
    exercise: catalog.Exercise
    timeout: float = DEFAULT_TIMEOUT_S
    call_timeout: float | None = None
    start_method: str | None = None
    regrade: bool = True


def merge(base: ExerciseResult, later: ExerciseResult) -> ExerciseResult:
    """``base`` with the checks ``later`` graded again replaced, its speed figures and notes added."""
    again = {c.name: c for c in later.checks}
    return replace(
        base,
        checks=[again.get(c.name, c) for c in base.checks],
        speed=list(base.speed) + list(later.speed),
        measurements=list(base.measurements) + list(later.measurements),
    )


def client_environment() -> tuple:
    """The variables a Dask nanny sets in its workers (one thread for OpenMP, BLAS...), as this process has them.

    The grading processes get the instructor's values, as grading one by one would, not the worker's.
    """
    import dask

    keys = sorted(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    return tuple((key, os.environ.get(key)) for key in keys)


class ClassGrading:
    """Grades every submission on the cluster's slots: side by side, then timed alone, then regraded."""

    def __init__(self, client, slots: list[Slot], submissions: list[Submission], options: ClassOptions,
                 progress: "Progress | None" = None, on_done: Callable[[LearnerGrade], None] | None = None):
        self.client = client
        self.slots = slots
        self.options = options
        self.learners = [LearnerGrade(s) for s in submissions]
        self.progress = progress
        self.on_done = on_done
        self.environment = client_environment()
        self._last_check = time.monotonic()
        self._lost: list[Task] = []

    # -- jobs ------------------------------------------------------------------------------------

    def job(self, task: Task, cores: tuple[int, ...] | None) -> GradingJob:
        submission = self.learners[task.learner].submission
        return GradingJob(
            exercise=self.options.exercise.name, files=dict(submission.files), checks=task.checks,
            defer_speed=task.stage is Pass.SIDE_BY_SIDE, cores=cores, timeout=self.options.timeout,
            call_timeout=self.options.call_timeout, start_method=self.options.start_method,
            seed=submission.seed, environment=self.environment,
        )

    def submit(self, slot: Slot, task: Task) -> None:
        task.started = time.monotonic()
        task.attempts += 1
        future = self.client.submit(
            grade_on_worker, self.job(task, slot.cores), key=f"grade-{task.stage.name.lower()}-{task.learner}-{task.attempts}-{random.getrandbits(32):08x}",
            workers=[slot.address], allow_other_workers=False, pure=False,
        )
        slot.running[future] = task
        if task.stage is not Pass.SIDE_BY_SIDE:
            slot.exclusive = True

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> list[LearnerGrade]:
        side = deque(Task(index, Pass.SIDE_BY_SIDE) for index in range(len(self.learners)))
        timed: deque[Task] = deque()
        if self.progress:
            self.progress.start(len(self.learners), sum(slot.lanes for slot in self.slots), len(self.slots))
        while side or timed or self._running():
            for slot in self.slots:
                while side and slot.free_lanes > 0:
                    self.submit(slot, side.popleft())
                # A timed pass waits until no side-by-side work is left to start, then takes a whole slot.
                if not side and timed and not slot.running:
                    self.submit(slot, timed.popleft())
            for task, answer in self._finished():
                follow = self._record(task, answer)
                if self.progress:
                    self.progress.passed(task.stage, float(answer.get("seconds", 0.0)), follow is not None)
                if follow is not None:
                    timed.append(follow)
                else:
                    self._learner_done(task.learner)
            side.extendleft(reversed(self._lost_tasks(Pass.SIDE_BY_SIDE)))
            timed.extendleft(reversed(self._lost_tasks(Pass.TIMED, again=True)))
        if self.options.regrade:
            self.regrade()
        return self.learners

    def regrade(self) -> None:
        """Inconclusive checks, again: one submission at a time on a slot's cores, the rest of the cluster idle."""
        again = [index for index, learner in enumerate(self.learners) if learner.inconclusive()]
        if self.progress:
            self.progress.regrading(len(again))
        for index in again:
            task = Task(index, Pass.REGRADE, self.learners[index].inconclusive())
            self.submit(self.slots[0], task)
            while True:
                finished = self._finished()
                if finished:
                    self._record(*finished[0])
                    break
                if self._lost_tasks(Pass.REGRADE):
                    self.submit(self.slots[0], task)
            learner = self.learners[index]
            learner.outcome = self._outcome(learner)
            if self.on_done:
                self.on_done(learner)
            if self.progress:
                self.progress.regraded()

    def _running(self) -> bool:
        return any(slot.running for slot in self.slots)

    def _finished(self, wait_s: float = 1.0) -> list[tuple[Task, dict]]:
        """The tasks that ended (or overran the grace after their deadline), waiting up to ``wait_s`` for one."""
        until = time.monotonic() + wait_s
        while True:
            finished = self._collect()
            if finished or time.monotonic() >= until or not self._running():
                return finished
            time.sleep(0.1)

    def _collect(self) -> list[tuple[Task, dict]]:
        finished = []
        now = time.monotonic()
        for slot in self.slots:
            for future, task in list(slot.running.items()):
                answer = None
                if future.done():
                    try:
                        answer = future.result()
                    except Exception as exc:  # the task itself failed: its worker died, or it could not run
                        answer = _crashed(f"the grading task failed on worker {slot.address}: {type(exc).__name__}: {exc}")
                elif now - task.started > self.options.timeout + WORKER_GRACE_S:
                    future.cancel()
                    answer = _crashed(f"worker {slot.address} gave no answer {self.options.timeout + WORKER_GRACE_S:.0f} s after the grading started")
                    answer["outcome"] = Outcome.TIMED_OUT.value
                if answer is not None:
                    del slot.running[future]
                    if task.stage is not Pass.SIDE_BY_SIDE:
                        slot.exclusive = False
                    finished.append((task, answer))
        return finished

    def _lost_tasks(self, stage: Pass, again: bool = False) -> list[Task]:
        """Tasks of ``stage`` whose worker left the cluster, to run on another slot.

        The workers are looked up every few seconds; ``again`` reads the last look-up's losses.
        """
        if not again and time.monotonic() - self._last_check >= 5.0:
            self._last_check = time.monotonic()
            alive = set(cluster_workers(self.client))
            for slot in [s for s in self.slots if s.address not in alive]:
                self.slots.remove(slot)
                for future, task in slot.running.items():
                    future.cancel()
                    self._lost.append(task)
                slot.running.clear()
            if not self.slots:
                raise RuntimeError("every worker of the cluster left: nothing is left to grade on")
        mine = [task for task in self._lost if task.stage is stage]
        self._lost = [task for task in self._lost if task.stage is not stage]
        return mine

    def _record(self, task: Task, answer: dict) -> Task | None:
        """Fold a grading process's answer into the learner's grade; the timed pass to run next, if any."""
        learner = self.learners[task.learner]
        learner.seconds += float(answer.get("seconds", 0.0))
        learner.passes.append({
            "pass": task.stage.name.lower(), "seconds": round(float(answer.get("seconds", 0.0)), 2),
            "host": answer.get("host", "?"), "cores": list(answer.get("cores") or []), "outcome": answer.get("outcome"),
            "checks": list(task.checks),
        })
        result = exercise_result(answer, self.options.exercise.name)
        if answer.get("report"):
            learner.settings = learner.settings or dict(answer["report"].get("settings", {}))
        if result is None:
            outcome = Outcome(answer.get("outcome", Outcome.CRASHED.value))
            if outcome is Outcome.GRADED:
                outcome = Outcome.CRASHED
            problem = answer.get("problem") or "the grader reported nothing for this exercise"
            learner.outcome = worse(learner.outcome, outcome)
            learner.problem = learner.problem or problem
            names = task.checks if task.stage is not Pass.SIDE_BY_SIDE else ()
            learner.result = failed_result(self.options.exercise, learner.result, names, problem)
            return None
        learner.result = result if task.stage is Pass.SIDE_BY_SIDE else merge(learner.result, result)
        if task.stage is Pass.SIDE_BY_SIDE:
            from graders.classroom.class_timing import DEFERRED

            deferred = tuple(c.name for c in result.checks if c.status is Status.INCONCLUSIVE and c.cause == DEFERRED)
            if deferred:
                return Task(task.learner, Pass.TIMED, deferred)
        return None

    def _learner_done(self, index: int) -> None:
        learner = self.learners[index]
        learner.outcome = self._outcome(learner)
        if self.on_done:
            self.on_done(learner)
        if self.progress:
            self.progress.graded(learner)

    @staticmethod
    def _outcome(learner: LearnerGrade) -> Outcome:
        if learner.outcome in (Outcome.CRASHED, Outcome.TIMED_OUT):
            return learner.outcome
        return Outcome.INCONCLUSIVE if learner.inconclusive() else Outcome.GRADED


def _crashed(problem: str) -> dict:
    return {"outcome": Outcome.CRASHED.value, "report": None, "problem": problem, "seconds": 0.0, "cores": [], "host": "?"}


_SEVERITY = [Outcome.GRADED, Outcome.INCONCLUSIVE, Outcome.TIMED_OUT, Outcome.CRASHED]


def worse(a: Outcome, b: Outcome) -> Outcome:
    return max(a, b, key=_SEVERITY.index)


def failed_result(exercise: catalog.Exercise, base: ExerciseResult | None, names: tuple[str, ...], problem: str) -> ExerciseResult:
    """``base`` with ``names`` (every check, when ``base`` is None) failed for ``problem``: they score 0."""
    from graders.classroom.course import grader_checks

    if base is None:
        checks = [CheckResult(c.name, c.points, Status.FAILED, problem, cause="grading_stopped") for c in grader_checks(exercise)]
        return ExerciseResult(exercise.name, "", checks)
    return replace(base, checks=[
        replace(c, status=Status.FAILED, message=problem, cause="grading_stopped", hint="") if c.name in names else c
        for c in base.checks
    ])


# ----------------------------------------------------------------------------------------------
# Progress
# ----------------------------------------------------------------------------------------------


class Progress:
    """A progress bar with an estimate of the time left, on one line of a terminal (a line per step in a log).

    The estimate follows the schedule: the first passes left, spread over every lane, at the mean time
    a first pass took so far; then the timed passes left (those found, and as many again per first
    pass left as the first passes so far asked for), one per slot, at the mean time a timed pass took.
    """

    WIDTH = 30
    # Not a terminal (a log file): a line at most this often, and the last one.
    LOG_EVERY_S = 10.0

    def __init__(self, stream=None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = self.done = 0
        self.lanes = self.slots = 1
        self.started = 0.0
        self.first: list[float] = []
        self.timed: list[float] = []
        self.timed_found = 0
        self.regrade_total = self.regrade_done = 0
        self._last_line = ""
        self._last_shown: float | None = None

    def start(self, total: int, lanes: int = 1, slots: int = 1) -> None:
        self.total, self.lanes, self.slots, self.started = total, max(lanes, 1), max(slots, 1), self.clock()
        self._show()

    def passed(self, stage: "Pass", seconds: float, timed_next: bool = False) -> None:
        """A grading process ended (``timed_next``: a first pass that found speed checks to time)."""
        (self.first if stage is Pass.SIDE_BY_SIDE else self.timed).append(seconds)
        self.timed_found += bool(timed_next)
        self._show()

    def graded(self, learner: "LearnerGrade | None" = None) -> None:
        self.done += 1
        self._show()

    def regrading(self, count: int) -> None:
        self.regrade_total, self.regrade_done = count, 0
        if count:
            self._show()

    def regraded(self) -> None:
        self.regrade_done += 1
        self._show()

    def seconds_left(self) -> float | None:
        if not self.first:
            return None
        first_left = self.total - len(self.first)
        mean_first = sum(self.first) / len(self.first)
        expected_timed = self.timed_found + first_left * self.timed_found / len(self.first)
        mean_timed = sum(self.timed) / len(self.timed) if self.timed else mean_first
        timed_left = max(expected_timed - len(self.timed), 0.0)
        return first_left * mean_first / self.lanes + timed_left * mean_timed / self.slots

    def line(self) -> str:
        if self.regrade_total:
            return f"regrading inconclusive speed checks, one at a time on a quiet cluster: {self.regrade_done}/{self.regrade_total}"
        elapsed = self.clock() - self.started
        left = self.seconds_left()
        share = 1.0 if self.done >= self.total else (elapsed / (elapsed + left) if left is not None and elapsed + left > 0 else 0.0)
        filled = int(self.WIDTH * min(share, 1.0))
        text = (f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {self.done}/{self.total} graded "
                f"(first pass {len(self.first)}/{self.total}, timed {len(self.timed)}/{self.timed_found})")
        if self.done >= self.total:
            return text + f"  in {_duration(elapsed)}"
        if left is None:
            return text + "  (time left: after the first submission)"
        return text + f"  ~{_duration(left)} left"

    def _show(self) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(len(self._last_line)))
        else:
            now = self.clock()
            last = self.done >= self.total or self.regrade_total and self.regrade_done >= self.regrade_total
            due = self._last_shown is None or now - self._last_shown >= self.LOG_EVERY_S or last
            if text == self._last_line or not due:
                return
            self.stream.write(text + "\n")
            self._last_shown = now
        self.stream.flush()
        self._last_line = text

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------


def learner_folder(out: Path, learner: str) -> Path:
    return out / "learners" / learner


def write_learner(out: Path, grade: LearnerGrade) -> None:
    """The learner's grading report (graders.report.model) and Gradescope's results.json."""
    from graders.report import gradescope

    if grade.result is None:
        return
    folder = learner_folder(out, grade.submission.learner)
    results = GradingResults(exercises=[replace(grade.result, folder=str(grade.submission.source))],
                             settings=grade.settings, seconds=grade.seconds, complete=True)
    results.write(folder / "grading-report.json")
    gradescope.write(results, folder / "results.json")


def write_csv(out: Path, grades: list[LearnerGrade]) -> Path:
    """grades.csv: one row per learner, its points per check, total and status (graders.report.table's columns)."""
    from graders.report import table

    results, extra = [], {}
    for grade in grades:
        if grade.result is None:
            continue
        key = str(grade.submission.source)
        results.append(replace(grade.result, folder=key))
        extra[key] = {"learner": grade.submission.learner, "note": grade.problem or grade.submission.note,
                      "seed": grade.submission.seed, "seconds": f"{grade.seconds:.1f}", "status": grade.outcome.value}
    path = out / "grades.csv"
    table.write(results, path, extra)
    return path


def write_run(out: Path, exercise: str, slots: list[Slot], grades: list[LearnerGrade], seconds: float) -> Path:
    """class-run.json: the slots, the whole run's time, and every grading process of each learner."""
    path = out / "class-run.json"
    path.write_text(to_json({
        "exercise": exercise, "seconds": round(seconds, 2),
        "slots": [{"address": s.address, "host": s.host, "cores": list(s.cores), "lanes": s.lanes} for s in slots],
        "learners": {g.submission.learner: {"outcome": g.outcome.value, "seed": g.submission.seed, "passes": g.passes}
                     for g in grades},
    }), encoding="utf-8")
    return path


def summary(grades: list[LearnerGrade], seconds: float) -> str:
    counts = {outcome: sum(g.outcome is outcome for g in grades) for outcome in Outcome}
    rate = len(grades) / seconds * 60 if seconds > 0 else 0.0
    text = (f"{len(grades)} learners in {_duration(seconds)} ({rate:.1f} per minute): "
            + ", ".join(f"{n} {outcome.value}" for outcome, n in counts.items() if n))
    stuck = [g.submission.learner for g in grades if g.outcome is Outcome.INCONCLUSIVE]
    if stuck:
        text += ("\nStill inconclusive after the regrade (0 points for those speed checks until graded again on a "
                 f"quieter cluster): {', '.join(stuck)}")
    return text


def verdicts(exercise: catalog.Exercise, result: ExerciseResult | None, problem: str = "") -> dict[str, dict]:
    """What each check's notebook test cell shows (graders.classroom.notebook's verdict), as plain data."""
    from graders.classroom import notebook

    shown = {}
    for check in (result.checks if result else ()):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            verdict = notebook.verdict(exercise, check)
        shown[check.name] = {"printed": printed.getvalue(), "message": verdict.message, "status": verdict.status.value}
    return shown


def to_json(data) -> str:
    return json.dumps(data, indent=2)
