"""Building a learner submission from the reference solution and a gallery entry: the benchmark's rule,
which the project's tests follow too (the benchmark ships with the package; the tests do not)."""
from __future__ import annotations

from graders.tests.benchmark import PROJECT, submission  # noqa: F401 - shared with the tests
