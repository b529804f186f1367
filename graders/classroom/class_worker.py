"""The Dask worker side of class grading: a worker that closes stops the gradings it is running.

A grading process runs in a session of its own (so that its deadline can kill its whole tree), so it
would outlive a worker that is closed under it (the instructor stops the class run, the cluster shuts
down): this plugin, registered by the class grader on every worker, kills them when the worker closes.
"""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

NAME = "graders-class-gradings"


class StopGradingsOnClose(WorkerPlugin):
    name = NAME

    def teardown(self, worker) -> None:
        from graders.classroom.class_grading import stop_running

        stop_running()
