from __future__ import annotations

import pytest

from graders.grading.stubs import make_stub, strip_markers

SOLUTION = '''def f(x):
    """Doc."""
    # TODO: double it.
    ### BEGIN SOLUTION
    y = x * 2
    return y
    ### END SOLUTION
'''


def test_solution_block_becomes_not_implemented_and_todo_stays():
    stub = make_stub(SOLUTION)
    assert "x * 2" not in stub
    assert "    # TODO: double it.\n    raise NotImplementedError\n" in stub
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


def test_markers_can_be_stripped_to_a_plain_solution():
    plain = strip_markers(SOLUTION)
    assert "### " not in plain
    namespace = {}
    exec(plain, namespace)
    assert namespace["f"](3) == 6


@pytest.mark.parametrize(
    "broken",
    ["    ### BEGIN SOLUTION\n    x = 1\n", "    ### END SOLUTION\n", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"],
)
def test_unbalanced_markers_are_rejected(broken):
    with pytest.raises(ValueError):
        make_stub(broken)
