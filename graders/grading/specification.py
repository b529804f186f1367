"""What an exercise asks, sentence by sentence, and which checks (on which inputs) hold the learner to it.

Each grader module declares ``SPECIFICATION``, a tuple of :class:`Requirement`: a sentence quoted from a
stub's docstring or the exercise's README, the checks that exercise it and the inputs that reach its
edges. The catalogue test (graders/tests/test_catalog.py) keeps the table true: every quote stands in its
source, every check is named by some requirement, every public function of the stubs is cited. A
behaviour a check enforces but no sentence states is the bug this table exists to show.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

README = "README.md"


@dataclass(frozen=True)
class Requirement:
    # "<module>.py:<function>" for a docstring, or "README.md".
    source: str
    quote: str
    checks: tuple[str, ...]
    edges: str = ""

    @property
    def module_file(self) -> str:
        return self.source.split(":")[0]

    @property
    def function(self) -> str | None:
        return self.source.split(":", 1)[1] if ":" in self.source else None

    def source_text(self, folder: Path) -> str | None:
        """The text the quote must stand in, from the exercise ``folder``; None if it does not exist."""
        path = folder / self.module_file
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
        if self.function is None:
            return text
        return docstrings(text).get(self.function)


def docstrings(source: str) -> dict[str, str]:
    """Docstrings of the module (key "") and of its top-level functions and classes, by name."""
    tree = ast.parse(source)
    found = {"": ast.get_docstring(tree) or ""}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = ast.get_docstring(node) or ""
    return found


def public_functions(source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_")
    ]


def normalised(text: str) -> str:
    """Whitespace folded, and Markdown's emphasis and code marks dropped, so a quote may span lines."""
    return re.sub(r"\s+", " ", re.sub(r"[`*_]", "", text)).strip()
