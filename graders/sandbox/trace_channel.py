"""The grading process's end of the task trace: every line stamped on arrival, every start held for the rendezvous.

Each traced call in the sandbox (see :mod:`graders.sandbox.tracing`) sends ``S <task_id> <function>`` before
it works and ``E <task_id>`` when it is done, on a connection of its own thread, and waits for a
one-byte acknowledgement after each. What counts is decided here, from nothing the learner writes:

- the process: the pid the kernel reports for the connection (``SO_PEERCRED``), never one a line
  claims;
- the time: ``time.monotonic()`` of the grading process when the reader thread takes the line, and a
  global arrival number. Because a traced call goes on only once its line is acknowledged, and the
  acknowledgement is sent after the stamp, the stamps keep the order of cause and effect: a start
  acknowledged before another process's end is stamped before it, however slow this thread is.
  Overlap computed from the arrival numbers is therefore exact;
- the rendezvous: the acknowledgement of a start is held back until ``rendezvous`` distinct
  processes have a start without an end, or until ``wait_s`` has passed once in the run (after that,
  and after the rendezvous was met once, no start is held). Even tiny tasks then show whether the
  processes can run at once, and serial code pays the wait once.

A connection that sends something else (a malformed line, a line that is too long, more than
``MAX_EVENTS`` starts in all) gets no further hearing; such lines never become events.
"""
from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders.sandbox.trace_format import ACK, TraceEvent, TraceSpec

# Longest line a traced call sends (task ids are small integers, function names identifiers).
MAX_LINE = 256
# Starts kept in all: a flood of lines must not grow the grading process without end.
MAX_EVENTS = 200_000
MAX_CONNECTIONS = 4096
# The longest path an AF_UNIX socket address can hold on Linux (108 bytes with the final NUL).
MAX_PATH_BYTES = 107


@dataclass
class _Connection:
    pid: int
    serial: int
    buffer: bytearray = field(default_factory=bytearray)
    # task_id -> index in TraceChannel._starts, for starts without an end yet
    open: dict[str, int] = field(default_factory=dict)


@dataclass
class _Start:
    function: str
    pid: int
    start: float
    start_seq: int
    end: float | None = None
    end_seq: int | None = None


class TraceChannel:
    """A filesystem-path AF_UNIX socket that the sandbox's traced calls report to."""

    POLL_S = 0.05
    DRAIN_S = 2.0

    def __init__(self, server: socket.socket, path: Path, rendezvous: int, wait_s: float):
        self.path = path
        self.rendezvous = max(1, int(rendezvous))
        self.wait_s = float(wait_s)
        # The first unexpected error of the reader thread, if any (the run's evidence is then suspect).
        self.error: str | None = None
        self._server = server
        self._selector = selectors.DefaultSelector()
        self._selector.register(server, selectors.EVENT_READ)
        self._starts: list[_Start] = []
        self._seq = 0
        self._serials = 0
        # Connections whose start is waiting for its acknowledgement.
        self._held: list[socket.socket] = []
        self._holding = True
        self._wait_until: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="graders-trace-channel", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, path: Path, rendezvous: int = 2, wait_s: float = 2.0) -> "TraceChannel | None":
        """A channel listening at ``path``, or None where the kernel cannot name a socket's peer (not Linux)."""
        if not hasattr(socket, "SO_PEERCRED"):
            return None
        path = Path(path)
        if len(os.fsencode(str(path))) > MAX_PATH_BYTES:
            raise ValueError(f"trace socket path too long for AF_UNIX ({len(str(path))} bytes): {path}")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(path))
            # Graded code may run as another user: anyone may connect, the kernel names who did.
            os.chmod(path, 0o777)
            server.listen(socket.SOMAXCONN)
            server.setblocking(False)
        except OSError:
            server.close()
            raise
        return cls(server, path, rendezvous, wait_s)

    def spec_json(self, module: str, functions: tuple[str, ...]) -> str:
        """The TraceSpec the sandbox installs: which functions to trace, and where to report."""
        return TraceSpec(module, tuple(functions), str(self.path)).to_json()

    def started(self) -> int:
        """How many traced calls have started so far (stamped)."""
        with self._lock:
            return len(self._starts)

    def close(self) -> list[TraceEvent]:
        """Stop listening; every call each process reported, stamped by this process.

        Call it once every sandbox process is dead: what they sent is then all in the socket
        buffers, and is read to the end here.
        """
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + self.DRAIN_S
        while len(self._selector.get_map()) > 1 and time.monotonic() < deadline and self._poll(0):
            pass
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fileobj)
            key.fileobj.close()
        self._selector.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
        with self._lock:
            return [
                TraceEvent(s.function, s.pid, s.start, s.end, s.start_seq, s.end_seq) for s in self._starts
            ]

    # The reader thread ---------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            timeout = self.POLL_S
            if self._wait_until is not None and self._holding:
                timeout = max(0.0, min(timeout, self._wait_until - time.monotonic()))
            try:
                self._poll(timeout)
            except Exception as exc:  # noqa: BLE001 - a sender must never wait on a dead reader
                self.error = f"{type(exc).__name__}: {exc}"
                self._release()
            if self._holding and self._wait_until is not None and time.monotonic() >= self._wait_until:
                self._release()

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
            except OSError:
                return
            try:
                credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            except OSError:
                connection.close()  # nobody the kernel can name: nothing it sends would count
                continue
            if len(self._selector.get_map()) > MAX_CONNECTIONS:
                connection.close()
                continue
            pid = struct.unpack("3i", credentials)[0]
            self._serials += 1
            connection.setblocking(False)
            self._selector.register(connection, selectors.EVENT_READ, _Connection(pid, self._serials))

    def _read(self, key: selectors.SelectorKey) -> None:
        try:
            data = key.fileobj.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(key.fileobj)
            return
        state: _Connection = key.data
        state.buffer.extend(data)
        *lines, rest = state.buffer.split(b"\n")
        state.buffer = bytearray(rest)
        if len(state.buffer) > MAX_LINE:
            self._drop(key.fileobj)
            return
        for line in lines:
            if not self._line(key.fileobj, state, line):
                self._drop(key.fileobj)
                return

    def _line(self, connection: socket.socket, state: _Connection, line: bytes) -> bool:
        """Stamp one line and acknowledge it (or hold a start's acknowledgement); False: drop the sender."""
        now = time.monotonic()
        parts = line.split()
        if len(parts) == 3 and parts[0] == b"S":
            task_id, function = parts[1].decode("ascii", "replace"), parts[2].decode("ascii", "replace")
            if task_id in state.open or not function.isidentifier():
                return False
            with self._lock:
                if len(self._starts) >= MAX_EVENTS:
                    return False
                self._seq += 1
                state.open[task_id] = len(self._starts)
                self._starts.append(_Start(function, state.pid, now, self._seq))
            if self._holding:
                self._held.append(connection)
                if self._wait_until is None:
                    self._wait_until = now + self.wait_s
                if self._open_pids() >= self.rendezvous:
                    self._release()
            else:
                self._ack(connection)
            return True
        if len(parts) == 2 and parts[0] == b"E":
            index = state.open.pop(parts[1].decode("ascii", "replace"), None)
            if index is None:
                return False
            with self._lock:
                self._seq += 1
                started = self._starts[index]
                started.end, started.end_seq = now, self._seq
            self._ack(connection)
            return True
        if parts == [b"Q"]:
            # "Has any traced call started?" (a grader-owned helper in the sandbox asks, e.g. to
            # hold back a mocked download until processing has begun).
            self._ack(connection, b"1" if self._starts else b"0")
            return True
        return False

    def _open_pids(self) -> int:
        return len({s.pid for s in self._starts if s.end_seq is None})

    def _release(self) -> None:
        self._holding = False
        held, self._held = self._held, []
        for connection in held:
            self._ack(connection)

    def _ack(self, connection: socket.socket, byte: bytes = ACK) -> None:
        try:
            connection.send(byte)
        except OSError:
            pass  # the sender is gone or does not read its acknowledgements: its loss

    def _drop(self, connection: socket.socket) -> None:
        try:
            key = self._selector.unregister(connection)
        except (KeyError, ValueError):
            return
        if connection in self._held:
            self._held.remove(connection)
        # Starts it left open stay open: a process killed mid-task worked until the end of the run.
        del key
        connection.close()
