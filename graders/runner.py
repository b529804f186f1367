"""Running learner code in a sandbox process, from the grading process's side."""
from __future__ import annotations

import os
import pickle
import secrets
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders import calls as c
from graders import limits, processes, safe_pickle, tracing

# Starting the interpreter and importing the learner's module (numpy, pandas) is not part of any
# call's deadline, but it has one of its own.
STARTUP_TIMEOUT_S = 60.0
# After a call returns: leftover-process check and pickling the result.
WRAP_UP_TIMEOUT_S = 15.0
# Not copied into the sandbox: a learner's file must not stand in for the grader's own packages or
# be run at interpreter start.
_NOT_COPIED = ("__pycache__", ".ipynb_checkpoints", "graders", "graders.py", "fixtures", "fixtures.py",
               "sitecustomize.py", "usercustomize.py", "conftest.py", "*.pyc")


@dataclass
class SandboxRun:
    outcomes: list[c.Outcome]
    pid: int
    events: list[tracing.TraceEvent] = field(default_factory=list)
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
    keep_args: bool = False,
) -> SandboxRun:
    """Run ``calls`` one after another in a fresh sandbox process importing ``module`` from ``target_dir``.

    Each call has ``timeout`` seconds; on the first that overruns, the sandbox and every process it
    started are killed, and the remaining calls are reported as not run.
    """
    with tempfile.TemporaryDirectory(prefix="graders-") as scratch:
        scratch_path = Path(scratch)
        work = scratch_path / "work"
        trace_dir = scratch_path / "trace"
        work.mkdir()
        trace_dir.mkdir()
        # The learner's code runs on a copy: whatever it writes beside itself stays in the scratch folder.
        copy = scratch_path / "submission"
        if Path(target_dir).is_dir():
            shutil.copytree(target_dir, copy, ignore=shutil.ignore_patterns(*_NOT_COPIED))
        else:
            copy.mkdir()
        cap = limits.ProcessGroupCap()
        watched = _watched(Path(target_dir))
        before = {name: _snapshot(folder) for name, folder in watched.items()}
        channel = TraceChannel.open() if trace else None
        spec = (
            tracing.TraceSpec(
                module, tuple(trace), str(trace_dir), trace_wait_s, channel.address if channel else None
            ).to_json()
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
            limits=cap.limits(cpu_seconds=int(timeout * len(calls) + STARTUP_TIMEOUT_S)),
        )
        request_path = scratch_path / "request.pkl"
        request_path.write_bytes(pickle.dumps(request))
        log_path = scratch_path / "output.txt"
        processes.become_subreaper()
        already_ours = {p.pid for p in processes.descendants()}
        read_end, write_end = os.pipe()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "graders.sandbox", str(request_path), str(write_end)],
                pass_fds=(write_end,),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=work,
                env=_child_environment(scratch_path),
            )
        os.close(write_end)
        overran: int | None = -2
        try:
            starts, ends, overran = _follow(proc, read_end, timeout)
        finally:
            os.close(read_end)
            _stop(proc, finished=overran is None)
            cap.close()
            # Orphans that left the sandbox's session were adopted by us (a subreaper): end them too.
            processes.kill_all([p for p in processes.descendants() if p.pid not in already_ours])
            finished_at = time.monotonic()
            # Here, not after: a run that raised must not leave the channel's reader thread behind.
            # Every traced process is gone now, so the channel holds all they sent; with no
            # channel, the shared log is all there is.
            events = channel.close() if channel else tracing.read_events(str(trace_dir))
        written = [
            f"{name} ({', '.join(changed[:3])})"
            for name, folder in watched.items()
            if (changed := _changes(before[name], _snapshot(folder)))
        ]
        outcomes = []
        for index in range(len(calls)):
            outcome = _load_outcome(scratch_path / f"outcome-{index}.pkl")
            if outcome is None:
                outcome = _missing_outcome(index, overran, proc.returncode, timeout)
            if index in starts and index in ends:
                outcome.seconds = ends[index] - starts[index]
            if written and outcome.status != c.NOT_RUN:
                outcome = c.Outcome(c.WROTE_OUTSIDE, error=" and ".join(written), seconds=outcome.seconds)
            outcomes.append(outcome)
        return SandboxRun(
            outcomes=outcomes,
            pid=proc.pid,
            events=events,
            finished_at=finished_at,
            output=log_path.read_text(errors="replace")[-4000:],
        )


# The grader's own package, minus its tests: what grades the next call must be what graded this one.
GRADER_PACKAGE = Path(__file__).resolve().parent


def _watched(target_dir: Path) -> dict[str, Path]:
    """The folders graded code must leave as they were, by the name the learner is told."""
    return {"the submission folder itself": target_dir, "the grader itself": GRADER_PACKAGE}


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


class TraceChannel:
    """The grading process's end of the trace: a socket each traced process sends its lines to.

    Lines are filed under the pid the kernel reports for the connection they came through
    (SO_PEERCRED), so no learner code can claim work for a process that did not do it, and a trace
    written anywhere else (the shared log, a file of its own) never counts. A thread reads while
    the sandbox runs, so no sender ever blocks on a full socket buffer.
    """

    POLL_S = 0.05
    DRAIN_S = 2.0

    def __init__(self, server: socket.socket, address: str):
        self.address = address
        self._server = server
        self._selector = selectors.DefaultSelector()
        self._selector.register(server, selectors.EVENT_READ)
        self._received: list[tuple[int, bytearray]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="graders-trace-channel", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls) -> "TraceChannel | None":
        """A channel, or None where the kernel cannot name a socket's peer (not Linux)."""
        if not hasattr(socket, "SO_PEERCRED"):
            return None
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # An abstract address: nothing in the file system, and no limit from a long temp path.
        address = f"\0graders-trace-{secrets.token_hex(12)}"
        try:
            server.bind(address)
            server.listen(socket.SOMAXCONN)
            server.setblocking(False)
        except OSError:
            server.close()
            return None
        return cls(server, address)

    def close(self) -> list[tracing.TraceEvent]:
        """Stop listening and return what every process sent, each line under its sender's pid."""
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + self.DRAIN_S
        while len(self._selector.get_map()) > 1 and time.monotonic() < deadline and self._poll(0):
            pass
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fileobj)
            key.fileobj.close()
        self._selector.close()
        return [
            event
            for pid, data in self._received
            for event in tracing.parse_events(data.decode("ascii", errors="replace").splitlines(), pid)
        ]

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._poll(self.POLL_S)

    def _poll(self, timeout: float) -> bool:
        ready = self._selector.select(timeout)
        for key, _ in ready:
            if key.fileobj is self._server:
                self._accept()
            else:
                self._read(key)
        return bool(ready)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except (BlockingIOError, InterruptedError):
                return
            try:
                credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            except OSError:
                connection.close()  # nobody the kernel can name: nothing it sends would count
                continue
            received = bytearray()
            self._received.append((struct.unpack("3i", credentials)[0], received))
            connection.setblocking(False)
            self._selector.register(connection, selectors.EVENT_READ, received)

    def _read(self, key: selectors.SelectorKey) -> None:
        try:
            data = key.fileobj.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            key.data.extend(data)
        else:
            self._selector.unregister(key.fileobj)
            key.fileobj.close()


def _child_environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(tracing.SPEC_ENV, None)
    # Home and temporary files inside the scratch folder, which is deleted after the run.
    (scratch / "home").mkdir()
    (scratch / "tmp").mkdir()
    env.update(HOME=str(scratch / "home"), TMPDIR=str(scratch / "tmp"))
    # BLAS thread pools would make "serial" numpy code secretly parallel and blur every timing.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _follow(proc: subprocess.Popen, fd: int, timeout: float):
    """Read the child's control messages, stamping each with the grading process's clock."""
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    current: int | None = None
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return starts, ends, current if current is not None else -1
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        now = time.monotonic()
        chunk = os.read(fd, 4096)
        if not chunk:
            return starts, ends, None
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            kind, _, index = line.decode("ascii").partition(" ")
            # The first start and the last end count: learner code that writes to this pipe itself
            # can only make a call look longer, never shorter.
            if kind == "S":
                current = int(index)
                starts.setdefault(current, now)
                deadline = now + timeout
            elif kind == "E":
                ends[int(index)] = now
                current = None
                deadline = now + WRAP_UP_TIMEOUT_S
            elif kind == "D":
                return starts, ends, None


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


def _load_outcome(path: Path) -> c.Outcome | None:
    try:
        outcome = safe_pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except safe_pickle.UnsafeResult as exc:
        return c.Outcome(c.BAD_RETURN, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a value the grading process cannot rebuild
        return c.Outcome(c.BAD_RETURN, error=f"{type(exc).__name__}: {exc}")
    if not isinstance(outcome, c.Outcome):
        return c.Outcome(c.BAD_RETURN, error="the sandbox's result file was replaced")
    return outcome


def _missing_outcome(index: int, overran: int | None, returncode: int | None, timeout: float) -> c.Outcome:
    if overran == index:
        return c.Outcome(c.TIMEOUT, error=f"{timeout:g}")
    if overran == -1:
        return c.Outcome(c.TIMEOUT, error=f"importing the module took over {STARTUP_TIMEOUT_S:g}")
    if overran is not None and index > overran:
        return c.Outcome(c.NOT_RUN)
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return c.Outcome(c.CRASHED, error=f"killed by signal {name}")
    return c.Outcome(c.CRASHED, error=f"exit code {returncode}")
