"""Where the learner works: the project folder, the tree of exercise folders, and the names in them.

The three commands of the loop take the same arguments (an exercise, maybe a check, ``--tree``) and
must refuse a wrong one the same way, in one line that names the problem and lists what would do,
so that resolving them lives here once. The project folder is where pytest keeps its last gradings
(``.graders/last/``): the learner runs the commands from it, or from any folder below it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graders.grading import catalog
from graders.report import history
from graders.report.model import CheckResult, ExerciseResult

TREES = ("exercises", "solutions")


@dataclass(frozen=True)
class Workspace:
    root: Path
    tree: Path

    def last(self) -> dict[str, ExerciseResult]:
        """The last grading of each exercise of this tree (no grading is run)."""
        return history.last(self.root, self.tree)

    def display(self, path: Path) -> str:
        """A path as short as it can be said from where the command runs."""
        for base in (Path.cwd(), self.root):
            try:
                return str(path.resolve().relative_to(base.resolve()))
            except ValueError:
                continue
        return str(path)


def find_root(start: Path | None = None) -> Path:
    """The project folder: the nearest folder up from ``start`` that holds ``.graders/``, exercises/ or
    solutions/, else ``start`` itself (the current folder)."""
    start = (start or Path.cwd()).resolve()
    markers = (history.FOLDER.parent, *TREES)
    return next((folder for folder in (start, *start.parents) if any((folder / m).is_dir() for m in markers)), start)


def workspace(tree: str | Path = "exercises", start: Path | None = None) -> Workspace:
    """The project and the tree of exercise folders ``tree`` names: exercises, solutions or a path."""
    root = find_root(start)
    given = Path(tree).expanduser()
    here = (start or Path.cwd()).resolve()
    candidates = [given] if given.is_absolute() else [here / given, root / given]
    folder = next((candidate for candidate in candidates if candidate.is_dir()), None)
    if folder is None:
        raise ValueError(
            f"no folder {str(tree)!r} in {here} or in the project {root}: "
            f"give --tree {' or '.join(TREES)} or the path of a folder of exercises"
        )
    return Workspace(root, folder.resolve())


def exercise(name: str) -> catalog.Exercise:
    """The catalogue's exercise called ``name``, or the only one it starts (``01``, ``01_func``)."""
    return catalog.find(name)


def checks(exercise: catalog.Exercise, result: ExerciseResult | None = None) -> list[str]:
    """The exercise's checks in grading order: the catalogue's, then any the last grading had besides."""
    names = list(exercise.hints)
    if result is not None:
        names += [check.name for check in result.checks if check.name not in names]
    return names


def check(exercise: catalog.Exercise, name: str, result: ExerciseResult | None = None) -> str:
    """The check called ``name`` (a leading ``test_`` is allowed), or a one-line refusal listing them."""
    known = checks(exercise, result)
    bare = name.removeprefix("test_")
    if bare in known:
        return bare
    raise ValueError(f"{exercise.name} has no check {name!r}: its checks are {', '.join(known)}")


def hint_of(exercise: catalog.Exercise, check: CheckResult) -> str:
    """The hint a failed check was graded with, else the catalogue's for its check and cause."""
    return check.hint or exercise.hint(check.name, check.cause) or ""
