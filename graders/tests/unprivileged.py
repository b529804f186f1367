"""The project's tests as an ordinary user: setting the user up, running pytest as that user.

    python -m graders.tests.unprivileged setup     # as root, once (idempotent): the user and its venv
    python -m graders.tests.unprivileged check     # says whether the tests can run as that user

As root, the tests of ``test_unprivileged.py`` run the graders as the system user ``graders-learner``
from its venv ``/var/tmp/graders-learner-venv`` (pyenv's interpreters under /root are out of its
reach); as anyone else, as themselves. Either way a program of that same user holds 300 threads
for the duration, as a browser or an IDE does. The machinery lives in ``graders.tests.ordinary_user``,
which the benchmark uses too.
"""
from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from graders.report.model import CheckResult, GradingResults
from graders.tests.ordinary_user import (  # noqa: F401 - the tests' vocabulary
    BUSY_THREADS,
    PROJECT,
    SETUP_COMMAND,
    USER,
    VENV,
    Busy,
    Learner,
    NotReady,
    busy_user,
    is_root,
    prepared,
    setup,
    venv_problem,
)


@dataclass
class PytestRun:
    """One pytest run as the learner: its exit code, its output, its grading report and failures."""

    returncode: int
    output: str
    report: GradingResults
    failures: dict[str, str]  # test id -> first lines of why it failed or errored

    @property
    def checks(self) -> dict[str, CheckResult]:
        return {f"{e.exercise}::{c.name}": c for e in self.report.exercises for c in e.checks}

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_pytest(learner: Learner, *args: str, report: bool = False, timeout: float = 900) -> PytestRun:
    """``python -m pytest ARGS`` as ``learner``, in its copy of the project."""
    with learner.scratch() as scratch:
        extra = ["--junitxml", str(scratch / "junit.xml")]
        if report:
            extra += ["--grading-report", str(scratch / "report.json")]
        command = [str(learner.python), "-m", "pytest", *args, "-p", "no:cacheprovider", *extra]
        result = learner.run(command, timeout=timeout)
        path = scratch / "report.json"
        data = GradingResults.read(path) if report and path.exists() else GradingResults()
        failures = _failures(scratch / "junit.xml")
    return PytestRun(result.returncode, result.stdout + result.stderr, data, failures)


def _failures(junit: Path) -> dict[str, str]:
    try:
        cases = ElementTree.parse(junit).getroot().iter("testcase")
    except (OSError, ElementTree.ParseError):
        return {}
    found = {}
    for case in cases:
        for problem in (*case.findall("failure"), *case.findall("error")):
            text = (problem.get("message") or problem.text or "").strip()
            found[case.get("name", "?")] = " | ".join(text.splitlines()[:3])[:500]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("setup", "check"))
    args = parser.parse_args(argv)
    if args.action == "setup":
        setup(PROJECT)
        return 0
    problem = venv_problem(PROJECT)
    print(problem or ("ready: the tests run as " + (USER if is_root() else "you")))
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
