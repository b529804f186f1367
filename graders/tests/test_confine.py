"""Confinement: what graded code may write, see, reach and start, with and without namespaces."""
from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path

import psutil
import pytest

from graders.sandbox import calls as c
from graders.sandbox import confine, limits, parent

PROBE = '''
import os, resource, socket


def report():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    limits = {name: resource.getrlimit(getattr(resource, name)) for name in ("RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE")}
    return {
        "pid": os.getpid(),
        "capabilities": int(status["CapEff"].strip(), 16),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "limits": limits,
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "cwd_writable": os.access(".", os.W_OK),
    }


def shout(megabytes):
    line = b"y" * (1 << 20)
    for _ in range(megabytes):
        os.write(1, line)
    return "done"
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(textwrap.dedent(PROBE))
    return tmp_path


def _report(folder: Path) -> dict:
    (outcome,) = parent.run_calls(folder, "probe", [c.Call("report")], timeout=30).outcomes
    assert outcome.ok, outcome
    return outcome.value


def test_in_namespaces_graded_code_has_no_privileges_and_its_own_pids_and_network(folder):
    if not confine.namespaces_available():
        pytest.fail("user namespaces are refused on this machine: the project's tests expect them (see README)")
    report = _report(folder)
    assert report["capabilities"] == 0 and report["no_new_privs"] == "1"
    assert report["pid"] != os.getpid() and report["pid"] < 10  # its own pid namespace, not pid 1
    assert report["interfaces"] == ["lo"]
    for name, (soft, hard) in report["limits"].items():
        assert soft == hard, f"{name} is not a hard limit"
    assert report["limits"]["RLIMIT_NPROC"][0] == limits.MAX_TASKS
    assert report["cwd_writable"]


def test_without_namespaces_the_limits_are_hard_and_the_thread_limit_leaves_room_for_the_users_threads(folder, monkeypatch):
    monkeypatch.setenv(confine.MODE_ENV, "limits")
    confine.namespaces_available.cache_clear()
    try:
        report = _report(folder)
    finally:
        monkeypatch.delenv(confine.MODE_ENV)
        confine.namespaces_available.cache_clear()
    for name, (soft, hard) in report["limits"].items():
        assert soft == hard, f"{name} is not a hard limit"
    threads = sum(p.num_threads() for p in psutil.process_iter() if p.uids().real == os.getuid())
    assert report["limits"]["RLIMIT_NPROC"][0] >= limits.MAX_TASKS + threads // 2
    assert report["no_new_privs"] == "1"


def test_what_graded_code_prints_is_bounded(folder):
    run = parent.run_calls(folder, "probe", [c.Call("shout", (64,))], timeout=60)
    assert run.outcomes[0].value == "done"
    assert len(run.output) < 3 * parent.OUTPUT_KEPT
    assert "bytes of output not kept" in run.output


def test_bounded_output_keeps_the_beginning_and_the_end():
    stream = io.BufferedReader(io.BytesIO(b"start" + b"." * 100_000 + b"end"))
    output = parent.BoundedOutput(stream, kept=10)
    output.close()
    text = output.text()
    assert text.startswith("start.....") and text.endswith(".......end")
    assert f"{100_008 - 20} bytes of output not kept" in text


def test_cgroups_left_by_a_grading_process_that_died_are_removed(tmp_path):
    dead = 2**22 + 12345  # above the kernel's pid range: no such process
    assert not psutil.pid_exists(dead)
    stale, ours = tmp_path / f"graders-{dead}-0", tmp_path / f"graders-{os.getpid()}-0"
    stale.mkdir()
    ours.mkdir()
    limits._sweep_stale(tmp_path)
    assert not stale.exists() and ours.exists()
