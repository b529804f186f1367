"""The wrong-solution gallery: plausible mistakes, each of which must fail exactly the checks it names.

An entry is a folder gallery/<exercise>/<name>/ holding, for each learner module it changes, the
definitions that replace the reference solution's (they are appended to it), and expect.toml:

    why = "what the mistake is"
    checks = ["words_results", "words_parallel"]   # the checks to run
    start_method = "spawn"                         # optional
    options = ["--call-timeout", "5"]              # optional, more grading options
    [fail]
    words_parallel = "threads"                     # regex that must appear in the failure message

Every listed check that is not under [fail] must pass. A speed check may be "inconclusive" (the
machine too busy to measure) instead of either outcome, since that verdict blames no one.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from graders.tests.conftest import submission

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GALLERY = Path(__file__).with_name("gallery")
ENTRIES = sorted(GALLERY.glob("*/*/expect.toml"))


def _entry_id(path: Path) -> str:
    return f"{path.parent.parent.name}/{path.parent.name}"


def _traces_left() -> dict[str, set]:
    """What a graded run must not leave behind: processes, cgroups, /dev/shm entries, attack files."""
    import glob
    import os

    from graders.sandbox import processes

    cgroups = {p for p in glob.glob("/sys/fs/cgroup/*/graders-*") + glob.glob("/sys/fs/cgroup/*/*/graders-*") if f"graders-{os.getpid()}-" in p}
    return {
        "processes": {p.pid for p in processes.descendants() if p.status() != "zombie"},
        "cgroups": cgroups,
        "/dev/shm": {n for n in os.listdir("/dev/shm") if n.startswith(("sem.mp-", "psm_", "mp-"))} if os.path.isdir("/dev/shm") else set(),
        "attack files": set(glob.glob("/tmp/graders-attack-*")),
    }


@pytest.mark.parametrize("expect_file", ENTRIES, ids=_entry_id)
def test_gallery_entry_fails_exactly_its_checks(grade, pytester, monkeypatch, expect_file):
    expect = tomllib.loads(expect_file.read_text(encoding="utf-8"))
    exercise = expect_file.parent.parent.name
    folder = submission(pytester.path / "submission", exercise, overlay=expect_file.parent)
    # Where an entry that tries to escape its sandbox would write (the learner's own folder).
    monkeypatch.setenv("GALLERY_SUBMISSION_FOLDER", str(folder))
    args = ["-k", " or ".join(f"test_{name}" for name in expect["checks"])]
    if "start_method" in expect:
        args += ["--start-method", expect["start_method"]]
    args += expect.get("options", [])
    before = _traces_left()
    grading = grade(folder, args=tuple(args))
    after = _traces_left()
    left = {what: sorted(after[what] - before[what]) for what in after if after[what] - before[what]}
    assert not left, f"{expect['why']}: the graded run left behind {left}"
    assert "grading summary" in grading.result.stdout.str(), "the grading run ended without its summary"
    checks = grading.checks
    assert set(checks) == set(expect["checks"]), grading.result.stdout.str()
    must_fail = expect.get("fail", {})
    for name, check in checks.items():
        speed = name.endswith("speedup")
        if name in must_fail:
            allowed = {"failed", "inconclusive"} if speed else {"failed"}
            assert check.status in allowed, f"{name} should fail ({expect['why']}) but {check.status}"
            if check.status == "failed":
                assert re.search(must_fail[name], check.message, re.IGNORECASE), (name, check.message)
        else:
            allowed = {"passed", "inconclusive"} if speed else {"passed"}
            assert check.status in allowed, f"{name} should pass but {check.status}: {check.message}"


def test_gallery_is_not_empty():
    assert ENTRIES, "no gallery entries found"
