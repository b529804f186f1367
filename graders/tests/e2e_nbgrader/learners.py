"""The learners of the end-to-end course: what each hands in, and which checks each must fail.

Every submission starts from a notebook nbgrader produced (the released one, or the source one with
its solution markers removed) and changes it the way a learner would: a function rewritten in a
module cell, a cell of their own added, a test cell edited or deleted.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable

import nbformat
from nbformat.v4 import new_code_cell

THREAD_POOL_WORDS = '''\
def build_words_parallel(seeds, length, processes):
    from multiprocessing.pool import ThreadPool
    with ThreadPool(processes) as pool:
        return pool.starmap(build_word, [(seed, length) for seed in seeds])
'''
ONE_BY_ONE_TINY = '''\
def total_steps_parallel(numbers, processes):
    with Pool(processes) as pool:
        return sum(pool.imap(collatz_steps, numbers))
'''
ENDLESS_IMAGES = '''\
def filter_images_parallel(images, kernel, processes):
    while True:
        pass
'''
POOL_LEFT_OPEN_WORDS = '''\
def build_words_parallel(seeds, length, processes):
    pool = Pool(processes)
    return pool.starmap(build_word, [(seed, length) for seed in seeds])
'''
TOGGLING_MARK_VISITED = '''\
def mark_visited(city):
    return toggle_visited(city)
'''
# Serial code where the exercise asks for a pool: what it earns is the results checks, never the
# parallel or speed checks.
SERIAL_WORDS = '''\
def build_words_parallel(seeds, length, processes):
    return build_words_loop(seeds, length)
'''
SERIAL_IMAGES = '''\
def filter_images_parallel(images, kernel, processes):
    return filter_images_loop(images, kernel)
'''
SERIAL_TINY = '''\
def total_steps_parallel(numbers, processes):
    return total_steps_loop(numbers)
'''

# Cells of a learner's own, run before the test cells, that make every test cell of a kernel pass
# without grading anything: each changes what a test cell (``from graders.classroom.notebook import check;
# check(...)``) runs, in a different way. Each forges the kernel's output of the test cells (see
# graders/tests/test_course.py); none may change a score. In this order, a notebook can hold them all
# and each of its cells runs without an error.
TAMPERING = {
    "rebinds_check": '''\
import graders.classroom.notebook
graders.classroom.notebook.check = lambda exercise, name, folder=None: print(f"{name}: passed, 1 point.")
''',
    "poisons_the_result_cache": '''\
import graders.classroom.notebook as grading

class EveryCheckPassed(dict):
    def get(self, name, default=None):
        return grading.CheckResult(name, 1.0, "passed")

class EveryStateKnown(dict):
    def get(self, key, default=None):
        return grading._State(grading.GraderRun(), EveryCheckPassed())

grading._STATES = EveryStateKnown()
''',
    "forges_the_grader_subprocess": '''\
import json, subprocess
from graders.grading import catalog
from graders.classroom.course import grader_checks

class ForgedGrader:
    """Stands in for subprocess.Popen: writes a report where every check passed, runs nothing."""
    pid = 1
    returncode = 0

    def __init__(self, command, **kwargs):
        report = command[command.index("--grading-report") + 1]
        exercises = [
            {"exercise": e.name, "folder": ".", "checks": [{"name": c.name, "points": c.points, "status": "passed"} for c in grader_checks(e)]}
            for e in catalog.exercises().values() if str(e.grader_path) in " ".join(command)
        ]
        with open(report, "w") as handle:
            json.dump({"schema": 2, "exercises": exercises}, handle)

    def wait(self, timeout=None):
        return 0

subprocess.Popen = ForgedGrader
''',
    "replaces_the_module_in_sys_modules": '''\
import sys, types
forged = types.ModuleType("graders.classroom.notebook")
forged.check = lambda exercise, name, folder=None: print(f"{name}: passed, 1 point.")
sys.modules["graders.classroom.notebook"] = forged
''',
    "hooks_builtins_import": '''\
import builtins, types
forged = types.SimpleNamespace(check=lambda exercise, name, folder=None: print(f"{name}: passed, 1 point."))

def forging_import(name, globals=None, locals=None, fromlist=(), level=0, real_import=builtins.__import__, forged=forged):
    if name == "graders.classroom.notebook":
        return forged
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = forging_import
''',
    "shadows_the_package_in_its_folder": '''\
import os, sys
os.makedirs("graders", exist_ok=True)
os.makedirs(os.path.join("graders", "classroom"), exist_ok=True)
for package in ("graders", os.path.join("graders", "classroom")):
    with open(os.path.join(package, "__init__.py"), "w") as handle:
        handle.write("")
with open(os.path.join("graders", "classroom", "notebook.py"), "w") as handle:
    handle.write("def check(exercise, name, folder=None):\\n    print(name + ': passed, 1 point.')\\n")
for module in [m for m in sys.modules if m == "graders" or m.startswith("graders.")]:
    del sys.modules[module]
sys.path.insert(0, os.getcwd())
''',
}

# A learner's own cell that ignores the interrupt nbgrader sends at the cell timeout.
KERNEL_HANG = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
KERNEL_CRASH = "import os\nos._exit(1)"


def replace_function(source: str, name: str, new_code: str) -> str:
    """``source`` with the top-level function ``name`` replaced by ``new_code``."""
    header, _, body = source.partition("\n")
    tree = ast.parse(body)
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if node is None:
        raise LookupError(f"no function {name} in the cell")
    lines = body.split("\n")
    start = node.lineno - 1 - len(node.decorator_list)
    return "\n".join([header, *lines[:start], new_code.rstrip("\n"), *lines[node.end_lineno:]])


def module_cell(notebook, module: str):
    return next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(f"%%writefile {module}.py"))


def test_cell(notebook, check: str):
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"test_{check}")


def rewrite(module: str, function: str, code: str) -> Callable:
    def change(notebook):
        cell = module_cell(notebook, module)
        cell.source = replace_function(cell.source, function, code)

    return change


def append_to_module(module: str, text: str) -> Callable:
    def change(notebook):
        module_cell(notebook, module).source += "\n" + text

    return change


def add_cell_after_modules(code: str) -> Callable:
    def change(notebook):
        last = max(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.startswith("%%writefile"))
        notebook.cells.insert(last + 1, new_code_cell(code))

    return change


def add_cells_after_modules(*codes: str) -> Callable:
    """Cells of the learner's own after the module cells, in this order."""
    def change(notebook):
        last = max(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.startswith("%%writefile"))
        notebook.cells[last + 1:last + 1] = [new_code_cell(code) for code in codes]

    return change


def delete_test_cell(check: str) -> Callable:
    def change(notebook):
        notebook.cells.remove(test_cell(notebook, check))

    return change


def edit_test_cell(check: str, code: str) -> Callable:
    def change(notebook):
        test_cell(notebook, check).source = code

    return change


@dataclass
class Learner:
    student: str
    exercise: str
    # "solution": the source notebook without solution markers; "release": the notebook as released.
    start: str
    changes: list[Callable] = field(default_factory=list)
    # Checks that must score 0 (ALL: every check); every other check must score its points.
    fails: frozenset[str] | str = frozenset()
    start_method: str = "fork"
    why: str = ""

    def notebook(self, solution, release):
        notebook = nbformat.from_dict(nbformat.reads(nbformat.writes(solution if self.start == "solution" else release), as_version=4))
        for change in self.changes:
            change(notebook)
        return notebook


ALL = "all"

LEARNERS = [
    Learner("alice", "02_multiprocessing", "solution", start_method="forkserver",
            changes=[delete_test_cell("words_parallel"), edit_test_cell("tiny_speedup", "print('all good')")],
            why="reference solution; deletes one test cell and empties another (both are put back)"),
    Learner("bob", "02_multiprocessing", "release", fails=ALL, why="untouched stubs"),
    Learner("carol", "02_multiprocessing", "solution",
            changes=[rewrite("word_builder", "build_words_parallel", THREAD_POOL_WORDS),
                     rewrite("tiny_tasks", "total_steps_parallel", ONE_BY_ONE_TINY)],
            fails=frozenset({"words_parallel", "words_speedup", "tiny_speedup"}),
            why="threads instead of processes (never two processes at once, so no speedup is credited); "
                "one number per task (too slow)"),
    Learner("dave", "02_multiprocessing", "solution",
            changes=[rewrite("image_filters", "filter_images_parallel", ENDLESS_IMAGES),
                     append_to_module("tiny_tasks", "def broken(:\n    pass"), add_cell_after_modules(KERNEL_HANG)],
            # no_leftover_processes judges the part whose call returned (words): the hang and the import
            # error are charged by their own parts' checks, once.
            fails=frozenset({"images_results", "images_parallel", "images_speedup",
                             "tiny_results", "tiny_parallel", "tiny_speedup"}),
            why="endless loop in one function; a module that does not import; a cell that hangs the kernel, deaf to interrupts"),
    Learner("erin", "02_multiprocessing", "solution", start_method="spawn",
            changes=[rewrite("word_builder", "build_words_parallel", POOL_LEFT_OPEN_WORDS), add_cell_after_modules(KERNEL_CRASH)],
            fails=frozenset({"no_leftover_processes"}),
            why="a pool never closed; a cell of their own that kills the kernel"),
    Learner("mallory", "02_multiprocessing", "solution",
            changes=[rewrite("word_builder", "build_words_parallel", SERIAL_WORDS),
                     rewrite("image_filters", "filter_images_parallel", SERIAL_IMAGES),
                     rewrite("tiny_tasks", "total_steps_parallel", SERIAL_TINY),
                     add_cells_after_modules(*TAMPERING.values())],
            fails=frozenset({"words_parallel", "words_speedup", "images_parallel", "images_speedup",
                             "tiny_parallel", "tiny_speedup"}),
            why="serial code, and cells of their own that rebind or patch what the test cells run "
                "(check, sys.modules, the result cache, subprocess, builtins.__import__, a shadow package)"),
    Learner("alice", "01_functional", "solution", why="reference solution"),
    Learner("bob", "01_functional", "release", fails=ALL, why="untouched stubs"),
    Learner("carol", "01_functional", "solution",
            changes=[rewrite("cities", "mark_visited", TOGGLING_MARK_VISITED)],
            fails=frozenset({"mark_visited"}), why="a function that is not idempotent"),
    # Every other exercise once, with its reference solution: the notebook route must grade them all
    # (asyncio inside a kernel's running loop, a Dask cluster started from a test cell).
    Learner("alice", "03_asyncio", "solution", why="reference solution"),
    Learner("alice", "04_pipeline", "solution", why="reference solution"),
    Learner("alice", "05_distributed", "solution", start_method="spawn", why="reference solution"),
    Learner("alice", "06_threads", "solution", why="reference solution"),
    Learner("alice", "07_dask_collections", "solution", why="reference solution"),
]
