"""The end-to-end nbgrader test is slow (minutes): it runs only when selected with ``-m nbgrader``.

Run it with ``tox -e nbgrader`` or ``pytest -m nbgrader graders/tests/e2e_nbgrader``; a plain
``pytest`` deselects it (reported as deselected, not skipped).
"""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "nbgrader" in (config.getoption("markexpr") or ""):
        return
    here = [item for item in items if item.get_closest_marker("nbgrader") is not None]
    if here:
        config.hook.pytest_deselected(items=here)
        items[:] = [item for item in items if item.get_closest_marker("nbgrader") is None]
