"""Running learner code in a sandbox process, from the grading process's side.

The grading process starts the sandbox (graders.sandbox.child) confined (graders.sandbox.confine), in a pids cgroup
where one can be had (graders.sandbox.limits), and follows it: it stamps each call's start and end with its own
clock as the frames arrive (graders.sandbox.protocol), lists the processes a call left behind from outside,
decodes each outcome as data (graders.sandbox.codec), keeps a bounded part of what the sandbox printed, and
kills the sandbox and everything it started when it is done or overruns its deadline.
"""
from __future__ import annotations

import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from graders.sandbox import calls as c
from graders.sandbox import codec, confine, limits, processes, trace_format
from graders.sandbox.protocol import FrameReader
from graders.sandbox.trace_channel import TraceChannel

# Starting the interpreter and importing the learner's module (numpy, pandas) is not part of any
# call's deadline, but it has one of its own.
STARTUP_TIMEOUT_S = 60.0
# After a call returns: leftover-process check and encoding the result.
WRAP_UP_TIMEOUT_S = 15.0
# How long processes a call ended may take to exit before they count as left behind.
LEFTOVER_GRACE_S = 0.5
# What is kept of a sandbox's printed output: its beginning and its end.
OUTPUT_KEPT = 4000
# Not copied into the sandbox: a learner's file must not stand in for the grader's own packages or
# be run at interpreter start.
_NOT_COPIED = ("__pycache__", ".ipynb_checkpoints", "graders", "graders.py", "fixtures", "fixtures.py",
               "sitecustomize.py", "usercustomize.py", "conftest.py", "*.pyc", "*.pth")


@dataclass
class SandboxRun:
    outcomes: list[c.Outcome]
    pid: int
    events: list[trace_format.TraceEvent] = field(default_factory=list)
    finished_at: float = 0.0
    output: str = ""


def run_calls(
    target_dir: Path,
    module: str,
    calls: list[c.Call],
    *,
    timeout: float,
    start_method: str | None = None,
    trace: tuple[str, ...] = (),
    trace_wait_s: float = 2.0,
    rendezvous: int = 2,
    keep_args: bool = False,
) -> SandboxRun:
    """Run ``calls`` one after another in a fresh sandbox process importing ``module`` from ``target_dir``.

    Each call has ``timeout`` seconds; on the first that overruns, the sandbox and every process it
    started are killed, and the remaining calls are reported as not run.
    """
    with tempfile.TemporaryDirectory(prefix="graders-") as scratch:
        scratch_path = Path(scratch)
        scratch_path.chmod(0o755)
        # The learner's code runs on a copy: whatever it writes stays in the scratch folder.
        copy = scratch_path / "submission"
        if Path(target_dir).is_dir():
            shutil.copytree(target_dir, copy, ignore=shutil.ignore_patterns(*_NOT_COPIED))
        else:
            copy.mkdir()
        box = scratch_path / "box"
        box.mkdir()
        cap = limits.ProcessGroupCap()
        namespaces = confine.namespaces_available()
        # In namespaces every file outside the sandbox's tmpfs is read-only to it; elsewhere, watch.
        watched = {} if namespaces else _watched(Path(target_dir))
        before = {name: _snapshot(folder) for name, folder in watched.items()}
        channel = TraceChannel.open(scratch_path / "trace.sock", rendezvous=rendezvous, wait_s=trace_wait_s) if trace else None
        spec = (
            (channel.spec_json(module, tuple(trace)) if channel else trace_format.TraceSpec(module, tuple(trace)).to_json())
            if trace
            else None
        )
        request = c.Request(
            target_dir=str(copy),
            module=module,
            calls=calls,
            sys_path=[p for p in sys.path if p and Path(p).resolve() != Path(target_dir).resolve()],
            start_method=start_method,
            trace_spec_json=spec,
            keep_args=keep_args,
            confinement=confine.Confinement(
                namespaces=namespaces,
                submission=str(copy),
                box=str(box),
                hidden=_answer_key(),
                cgroup_procs=cap.procs_file,
                max_cpu_seconds=int(timeout * len(calls) + STARTUP_TIMEOUT_S),
            ),
        )
        request_path = scratch_path / "request.pkl"
        try:
            request_path.write_bytes(pickle.dumps(request))
        except Exception:
            # Nothing was started: give back the cgroup and the trace channel before saying why.
            cap.close()
            if channel is not None:
                channel.close()
            raise
        processes.become_subreaper()
        already_ours = {p.pid for p in processes.descendants()}
        control_read, control_write = os.pipe()
        ack_read, ack_write = os.pipe()
        proc = subprocess.Popen(
            [*confine.launcher(namespaces), sys.executable, "-m", "graders.sandbox.child", str(request_path),
             str(control_write), str(ack_read)],
            pass_fds=(control_write, ack_read),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=scratch_path,
            env=_child_environment(box),
        )
        os.close(control_write)
        os.close(ack_read)
        printed = BoundedOutput(proc.stdout)
        follower = _Follower(proc, namespaces, timeout)
        try:
            follower.follow(control_read, ack_write)
        finally:
            os.close(control_read)
            os.close(ack_write)
            _stop(proc, finished=follower.overran is None)
            cap.close()
            # Orphans that left the sandbox's session were adopted by us (a subreaper): end them too.
            processes.kill_all([p for p in processes.descendants() if p.pid not in already_ours])
            finished_at = time.monotonic()
            printed.close()
            # Here, not after: a run that raised must not leave the channel's reader thread behind.
            # Every traced process is gone now, so the channel holds all they sent.
            events = channel.close() if channel else []
        written = [
            f"{name} ({', '.join(changed[:3])})"
            for name, folder in watched.items()
            if (changed := _changes(before[name], _snapshot(folder)))
        ]
        outcomes = []
        for index in range(len(calls)):
            outcome = follower.outcome(index, proc.returncode)
            if outcome.status == c.WROTE_OUTSIDE:
                outcome.place = _place(outcome.place, Path(target_dir))
            if written and outcome.status != c.NOT_RUN:
                outcome = c.Outcome(c.WROTE_OUTSIDE, place=" and ".join(written), seconds=outcome.seconds)
            outcomes.append(outcome)
        return SandboxRun(
            outcomes=outcomes,
            pid=follower.caller_pid or proc.pid,
            events=events,
            finished_at=finished_at,
            output=printed.text(),
        )


# The grader's own package, minus its tests: what grades the next call must be what graded this one.
GRADER_PACKAGE = Path(__file__).resolve().parents[1]


def _watched(target_dir: Path) -> dict[str, Path]:
    """The folders graded code must leave as they were, by the name the learner is told."""
    return {"the submission folder itself": target_dir, "the grader itself": GRADER_PACKAGE}


def _place(path: str, target_dir: Path) -> str:
    """A path graded code tried to write, by the name the learner is told."""
    for name, folder in _watched(target_dir).items():
        try:
            return f"{name} ({Path(path).resolve().relative_to(folder.resolve())})"
        except (ValueError, OSError):
            continue
    return path or "a file outside them (the system refused the write)"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """``folder`` as (size, mtime) per file."""
    found = {}
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (here == GRADER_PACKAGE and d == "tests")]
        for name in files:
            try:
                stat = (here / name).stat()
            except OSError:
                continue
            found[str((here / name).relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _changes(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _answer_key() -> tuple[str, ...]:
    """What graded code must not read: the graders' suites and tests, and the reference solutions."""
    hidden = [GRADER_PACKAGE / "suite", GRADER_PACKAGE / "tests", GRADER_PACKAGE.parent / "solutions"]
    return tuple(str(folder) for folder in hidden if folder.is_dir())


def _child_environment(box: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(trace_format.SPEC_ENV, None)
    # Home and temporary files inside the sandbox's own writable folder, gone after the run.
    env.update(HOME=str(box / "home"), TMPDIR=str(box / "tmp"))
    # BLAS thread pools would make "serial" numpy code secretly parallel and blur every timing.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    return env


class BoundedOutput:
    """Reads what the sandbox prints as it comes, keeping only its beginning and its end.

    Learner code that prints gigabytes costs the grader neither memory nor disk, and never blocks
    on a full pipe.
    """

    def __init__(self, stream, kept: int = OUTPUT_KEPT):
        self._stream = stream
        self._kept = kept
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._read, name="graders-sandbox-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := self._stream.read1(1 << 16):
            self.total += len(chunk)
            room = self._kept - len(self._head)
            if room > 0:
                self._head.extend(chunk[:room])
                chunk = chunk[room:]
            self._tail.extend(chunk)
            del self._tail[: max(0, len(self._tail) - self._kept)]

    def close(self) -> None:
        self._thread.join(timeout=5)
        self._stream.close()

    def text(self) -> str:
        head = self._head.decode(errors="replace")
        if self.total <= len(self._head) + len(self._tail):
            return head + self._tail.decode(errors="replace")
        skipped = self.total - len(self._head) - len(self._tail)
        return f"{head}\n[... {skipped} bytes of output not kept ...]\n{self._tail.decode(errors='replace')}"


class _Follower:
    """The grading process's reading of one sandbox run: stamps, leftovers and outcomes, by call."""

    def __init__(self, proc: subprocess.Popen, namespaces: bool, timeout: float):
        self.proc = proc
        self.namespaces = namespaces
        self.timeout = timeout
        self.starts: dict[int, float] = {}
        self.ends: dict[int, float] = {}
        self.leftovers: dict[int, list[str]] = {}
        self.outcomes: dict[int, c.Outcome] = {}
        self.caller_pid: int | None = None
        self.approved: set[int] = set()
        self.refused: str | None = None
        # How the sandbox process ended, as its namespace's init saw it.
        self.ended: str | None = None
        # (call, signal name) of a pool worker killed while that call ran.
        self.killed_worker: tuple[int, str] | None = None
        # None: the sandbox said it was done; -1: it never got to the first call; i: call i overran.
        self.overran: int | None = -1

    def follow(self, fd: int, ack_fd: int) -> None:
        reader = FrameReader()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        current: int | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.overran = current if current is not None else -1
                return
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            now = time.monotonic()
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.overran = None
                return
            for kind, index, payload in reader.feed(chunk):
                if kind == b"R" and self.caller_pid is None:
                    self.caller_pid = self._sandbox_pid()
                    self.approved = {p.pid for p in processes.descendants(self.caller_pid)}
                    os.write(ack_fd, b"k")
                elif kind == b"S":
                    # The first start and the last end count: learner code that writes frames itself
                    # can only make a call look longer, never shorter.
                    current = index
                    self.starts.setdefault(index, time.monotonic())
                    os.write(ack_fd, b"k")
                    deadline = now + self.timeout
                elif kind == b"E":
                    self.ends[index] = now
                    current = None
                    deadline = now + WRAP_UP_TIMEOUT_S
                elif kind == b"L" and index not in self.leftovers:
                    self.leftovers[index] = self._left_behind()
                    os.write(ack_fd, b"k")
                elif kind == b"O" and index in self.leftovers and index not in self.outcomes:
                    # Only after the grader has answered this call's leftover listing: an outcome the
                    # learner's code wrote itself while its call ran is not the sandbox's.
                    self.outcomes[index] = _decode(payload)
                elif kind == b"F":
                    self.refused = payload.decode("utf-8", "replace")
                elif kind == b"K" and current is not None and payload.isdigit():
                    self.killed_worker = (current, _signal_name(int(payload)))
                    self.overran = current
                    return
                elif kind == b"X":
                    self.ended = payload.decode("ascii", "replace")
                    self.overran = None
                    return
                elif kind == b"D":
                    self.overran = None
                    return
            if reader.garbled:
                self.overran = None
                return

    def _sandbox_pid(self) -> int:
        """The sandbox process as this process sees it: the child of unshare's child (the namespace's
        init, graders.sandbox.child._become_init), or the process we started."""
        if not self.namespaces:
            return self.proc.pid
        pid = self.proc.pid
        for _ in range(2):
            children = processes.children(pid)
            if not children:
                break
            pid = children[0].pid
        return pid

    def _left_behind(self) -> list[str]:
        """Processes the sandbox started that are still running now that the call has returned."""
        deadline = time.monotonic() + LEFTOVER_GRACE_S
        while True:
            alive = [p for p in processes.descendants(self.caller_pid) if p.pid not in self.approved and _running(p)]
            if not alive or time.monotonic() > deadline:
                return [f"{processes.describe(p)} was still running after the function returned" for p in alive]
            time.sleep(0.02)

    def outcome(self, index: int, returncode: int | None) -> c.Outcome:
        outcome = self.outcomes.get(index)
        if outcome is None:
            outcome = self._missing_outcome(index, returncode)
        else:
            outcome.leftovers = self.leftovers.get(index, []) + list(outcome.leftovers)
        if index in self.starts and index in self.ends:
            outcome.seconds = self.ends[index] - self.starts[index]
        return outcome

    def _missing_outcome(self, index: int, returncode: int | None) -> c.Outcome:
        if self.refused is not None:
            return c.Outcome(c.CRASHED, error=f"the sandbox could not confine itself ({self.refused})")
        if self.killed_worker is not None and self.killed_worker[0] == index:
            return c.Outcome(c.BROKEN_POOL, error=f"a worker process was killed by signal {self.killed_worker[1]}")
        if self.overran == index:
            return c.Outcome(c.TIMEOUT, deadline_s=self.timeout)
        if self.overran == -1:
            return c.Outcome(c.TIMEOUT, deadline_s=STARTUP_TIMEOUT_S, error="its module was still being imported")
        if self.overran is not None and index > self.overran:
            return c.Outcome(c.NOT_RUN)
        if self.ended is not None:
            kind, _, number = self.ended.rpartition(" ")
            if kind == "killed by signal" and number.isdigit():
                return c.Outcome(c.CRASHED, error=f"killed by signal {_signal_name(int(number))}")
            return c.Outcome(c.CRASHED, error=self.ended)
        if returncode is not None and returncode < 0:
            return c.Outcome(c.CRASHED, error=f"killed by signal {_signal_name(-returncode)}")
        return c.Outcome(c.CRASHED, error=f"exit code {returncode}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _decode(payload: bytes) -> c.Outcome:
    try:
        outcome = codec.loads(payload)
    except codec.UnsafePayload as exc:
        return c.Outcome(c.BAD_RETURN, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever a garbled payload breaks
        return c.Outcome(c.BAD_RETURN, error=f"{type(exc).__name__}: {exc}")
    if not isinstance(outcome, c.Outcome):
        return c.Outcome(c.BAD_RETURN, error="the sandbox's result was replaced")
    return outcome


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop(proc: subprocess.Popen, finished: bool) -> None:
    """End the sandbox and everything it started, whatever state it is in."""
    if finished and proc.poll() is None:
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    leftovers = processes.descendants(proc.pid) if proc.poll() is None else []
    processes.kill_group(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    processes.kill_all(leftovers)
