"""The grader's copies of given functions are the functions the learners were given, to the letter."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap

import pytest

import graders.given
from graders.grading import catalog
from graders.tests.conftest import PROJECT, committed

COPIES = sorted(info.name for info in pkgutil.iter_modules(graders.given.__path__))


def _function_node(source: str, name: str) -> str | None:
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            node.body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(getattr(n, "value", None), ast.Constant))]
            return ast.dump(node)
    return None


@pytest.mark.parametrize("copy", COPIES)
def test_each_copied_function_is_the_stubs_own(copy):
    module = importlib.import_module(f"graders.given.{copy}")
    stub_functions = getattr(module, "STUB_FUNCTIONS", None)
    assert stub_functions, f"graders/given/{copy}.py must name what it copies in STUB_FUNCTIONS"
    exercise = next(e for n, e in catalog.exercises().items() if n.startswith(copy.removeprefix("ex")))
    for learner_module, names in stub_functions.items():
        stub = committed(PROJECT / "exercises" / exercise.name / f"{learner_module}.py")
        for name in names:
            ours = _function_node(textwrap.dedent(inspect.getsource(getattr(module, name))), name)
            theirs = _function_node(stub, name)
            assert theirs is not None, f"{learner_module}.py of {exercise.name} has no function {name}"
            assert ours == theirs, f"graders/given/{copy}.py:{name} differs from the stub's {learner_module}.{name}"
