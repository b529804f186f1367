"""nbgrader extensions that the generated course's ``nbgrader_config.py`` switches on.

``RestartingExecute`` replaces nbgrader's ``Execute`` preprocessor at autograde. nbgrader gives up on
the whole submission when the kernel dies (a learner's cell calls ``os._exit``, a segfault, the
memory killer): the autograded notebook is deleted and every test cell is left without a score. And
a cell that ignores the interrupt sent at the cell timeout keeps the kernel busy, so every later cell
times out too. Here, a cell during which the kernel died or that hit the cell timeout gets an error
output saying so, the kernel (with every process in its process group) is replaced by a fresh one
in the same folder, and the notebook goes on with the next cell. Test cells of the course need
nothing from earlier cells but the module files the ``%%writefile`` cells saved, so they are graded
as usual; only that cell (and a learner's later cells that used its variables) lose anything.
"""
from __future__ import annotations

from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute

RESTARTED = "KernelRestarted"


class RestartingExecute(Execute):
    def preprocess_cell(self, cell, resources, index):
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self.log.warning("The kernel died while running cell %s; starting a new kernel", index)
            self._note(cell, "the kernel died while this cell ran (variables were lost); a new kernel runs the next cells")
            self._restart()
            return cell, self.resources
        timeout_name = (self.error_on_timeout or {}).get("ename", "CellTimeoutError")
        if cell.cell_type == "code" and any(o.get("output_type") == "error" and o.get("ename") == timeout_name for o in cell.outputs):
            self.log.warning("Cell %s reached the cell timeout (%s s); starting a new kernel", index, self.timeout)
            self._note(cell, f"this cell was stopped after {self.timeout} s; a new kernel (variables lost) runs the next cells")
            self._restart()
        return cell, resources

    @staticmethod
    def _note(cell, text: str) -> None:
        cell.setdefault("outputs", []).append(
            new_output("error", ename=RESTARTED, evalue=text, traceback=[f"{RESTARTED}: {text}"])
        )

    def _restart(self) -> None:
        """A fresh kernel in the same folder; the old one's process group is killed."""
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        run_sync(self.km.restart_kernel)(now=True)
        self.start_new_kernel_client()
