"""The frames a sandbox sends its grading process over the control pipe.

A frame is one kind byte, a call index and a payload length (network order), then the payload:

    R  ready: confined, helpers started, about to import the learner's module (the grader notes
       the sandbox's processes, then answers on the ack pipe)
    S  call i starts (answered on the ack pipe once stamped)    E  call i ended
    L  call i ended: list its leftover processes now (the grader answers on the ack pipe)
    O  call i's outcome (graders.sandbox.codec data)
    F  the sandbox could not confine itself (payload: why)
    D  done
    K  a pool worker was killed by a signal (payload: its number): the call can never finish
    X  the sandbox process ended (payload: "killed by signal N" or "exit code N"), from the
       namespace's init, which outlives it

The grading process stamps S and E with its own clock on arrival and lists leftovers itself, so
nothing here is evidence the learner's code could have written, except the outcome, which is data.
"""
from __future__ import annotations

import os
import struct

from graders.sandbox.codec import MAX_BYTES

_HEADER = struct.Struct("!ciI")
# An outcome frame carries the encoded value plus the outcome's other fields.
MAX_PAYLOAD = MAX_BYTES + (1 << 20)


def write_frame(fd: int, kind: bytes, index: int = 0, payload: bytes = b"") -> None:
    data = _HEADER.pack(kind, index, len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Bytes in, frames out; a frame that claims more than MAX_PAYLOAD marks the stream as garbled."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.garbled = False

    def feed(self, data: bytes) -> list[tuple[bytes, int, bytes]]:
        self._buffer.extend(data)
        frames = []
        while not self.garbled and len(self._buffer) >= _HEADER.size:
            kind, index, length = _HEADER.unpack_from(self._buffer)
            if length > MAX_PAYLOAD or kind not in b"RSELOFDXK":
                self.garbled = True
                break
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append((kind, index, bytes(self._buffer[_HEADER.size:end])))
            del self._buffer[:end]
        return frames
