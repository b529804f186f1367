"""The plugins graders.harnesses.dask_calls installs in its cluster. Imports distributed: sandbox side only."""
from __future__ import annotations

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin


class RecordingPlugin(SchedulerPlugin):
    """Passes the scheduler's task transitions and client arrivals to a graders.harnesses.dask_calls.TaskRecorder."""

    name = "graders-task-recorder"

    def __init__(self, recorder) -> None:
        self.recorder = recorder

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        self.recorder.transition(key, start, finish, **kwargs)

    def add_client(self, scheduler, client) -> None:
        self.recorder.add_client(client)


class NetGuardPlugin(WorkerPlugin):
    """Keeps the real network out of reach in each worker process (loopback stays open)."""

    name = "graders-netguard"
    idempotent = True

    def setup(self, worker) -> None:
        from graders.instruments.netguard import NetGuard

        self.guard = NetGuard().__enter__()
