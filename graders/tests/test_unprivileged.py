"""The graders as an ordinary user, while a program of that user holds 300 threads (a browser, an IDE).

Root is exempt from the per-user limits (Linux counts a user's *threads* against RLIMIT_NPROC), so
the project's other tests, run as root, cannot see what a learner's laptop does. Here:

- as root, everything runs as the system user ``graders-learner`` from its venv; when the user or
  the venv is missing the tests FAIL, naming the setup command (tox runs it first);
- as anyone else, as the current user, who is an ordinary user already.

Select them with ``-m unprivileged``.
"""
from __future__ import annotations

import os
import pwd

import pytest

from graders.tests.unprivileged import (
    BUSY_THREADS,
    PROJECT,
    Learner,
    NotReady,
    busy_user,
    is_root,
    prepared,
    run_pytest,
)

pytestmark = pytest.mark.unprivileged

# The gallery entries graded as the ordinary user: those where a user's limits bite (the attacks:
# fork bombs, memory hogs, hangs, tampering; and the exercises whose code starts processes or many
# threads). Every reference solution runs as that user too (test_every_reference_solution_passes).
# The whole gallery, as root, is test_gallery.py's; GRADERS_UNPRIVILEGED_GALLERY=all grades all of
# it as the ordinary user too (about as long again), and any other value is a -k expression.
GALLERY_SELECTION_ENV = "GRADERS_UNPRIVILEGED_GALLERY"
DEFAULT_GALLERY_SELECTION = "attack or 02_multiprocessing or 06_threads"
GALLERY_TIMEOUT_S = 3600

# Verdicts that blame no one: a speed check that cannot measure on a busy machine, or that does
# not apply on one usable core.
_NEUTRAL_SPEED = {"passed", "inconclusive", "skipped"}


@pytest.fixture(scope="module")
def learner():
    try:
        with prepared(PROJECT) as ready:
            yield ready
    except NotReady as problem:
        pytest.fail(f"cannot run the graders as an ordinary user: {problem}", pytrace=False)


def _describe(learner: Learner) -> str:
    return f"as {learner.name} (uid {learner.uid}) with {learner.python}, beside {BUSY_THREADS} threads of that user"


def test_the_learner_is_an_ordinary_user_and_the_busy_program_is_its_own(learner):
    assert learner.uid != 0
    assert learner.switch == is_root()
    with busy_user(learner) as busy:
        status = open(f"/proc/{busy.process.pid}/status").read()
        uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
        assert uid == learner.uid, f"the busy program runs as uid {uid}, not {learner.uid}"
        assert busy.running_threads() >= BUSY_THREADS
    assert pwd.getpwuid(learner.uid).pw_name == learner.name


@pytest.mark.timeout(900)
def test_every_reference_solution_passes(learner):
    with busy_user(learner) as busy:
        run = run_pytest(learner, "solutions", "-q", report=True, timeout=840)
        threads = busy.running_threads()
    assert threads >= BUSY_THREADS, f"the busy program held only {threads} threads at the end"
    assert run.checks, f"no grading report {_describe(learner)}:\n{run.tail()}"
    wrong = [
        f"{name}: {check.status}: {check.message[:400]}"
        for name, check in run.checks.items()
        if check.status not in (_NEUTRAL_SPEED if name.endswith("speedup") else {"passed"})
    ]
    assert not wrong, f"reference solutions graded {_describe(learner)}:\n" + "\n".join(wrong)
    exercises = {e.exercise for e in run.report.exercises}
    assert len(exercises) == len(list((learner.project / "solutions").glob("[0-9][0-9]_*"))), exercises


@pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)
def test_the_wrong_solution_gallery_meets_its_expectations(learner):
    chosen = os.environ.get(GALLERY_SELECTION_ENV) or DEFAULT_GALLERY_SELECTION
    selection = [] if chosen == "all" else ["-k", chosen]
    with busy_user(learner) as busy:
        run = run_pytest(
            learner, "graders/tests/test_gallery.py", "-q", "-rfE", "-p", "no:randomly", *selection,
            timeout=GALLERY_TIMEOUT_S,
        )
        threads = busy.running_threads()
    assert threads >= BUSY_THREADS, f"the busy program held only {threads} threads at the end"
    failed = [f"{name}: {why}" for name, why in run.failures.items()]
    summary = "\n".join(failed) if failed else run.tail(80)
    assert run.returncode == 0, f"gallery entries graded {_describe(learner)} missed their expectations:\n{summary}"
