"""The exercise catalogue (exercises.toml): which exercises exist, their modules, graders and hints."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CATALOG_FILE = Path(__file__).resolve().parents[1] / "exercises.toml"
# Where the grader modules are: a path there given to pytest grades exercises too.
SUITE_FOLDER = Path(__file__).resolve().parents[1] / "suite"


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    grader: str
    modules: tuple[str, ...]
    hints: dict[str, str] = field(default_factory=dict)
    # Hints by observed cause, for the whole exercise (exercises.toml: [exercises.NAME.causes]).
    causes: dict[str, str] = field(default_factory=dict)
    # Its learner code starts processes, so the multiprocessing start method matters.
    starts_processes: bool = False

    @property
    def grader_path(self) -> Path:
        return Path(sys.modules["graders"].__file__).parent.joinpath(*self.grader.split(".")[1:]).with_suffix(".py")

    def hint(self, check: str, cause: str | None = None) -> str | None:
        """The hint for ``check`` failed by ``cause``: the exercise's hint for that cause, then the
        generic one for a call that ended badly (a crash, a timeout...), then the check's own."""
        from graders.sandbox.calls import STATUS_HINTS

        if cause is not None:
            found = self.causes.get(cause) or STATUS_HINTS.get(cause)
            if found:
                return found
        return self.hints.get(check.removeprefix("test_"))

    def folder_in(self, target: Path) -> Path:
        """The exercise's folder inside a target: ``target/NAME``, or the target itself if it holds the modules."""
        nested = target / self.name
        if nested.is_dir() or not any((target / f"{m}.py").exists() for m in self.modules):
            return nested
        return target


@lru_cache(maxsize=1)
def exercises() -> dict[str, Exercise]:
    data = tomllib.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return {
        name: Exercise(
            name=name,
            title=entry["title"],
            grader=entry["grader"],
            modules=tuple(entry["modules"]),
            hints=dict(entry.get("hints", {})),
            causes=dict(entry.get("causes", {})),
            starts_processes=entry.get("starts_processes", False),
        )
        for name, entry in data["exercises"].items()
    }


def by_grader(module_name: str) -> Exercise | None:
    return next((e for e in exercises().values() if e.grader == module_name), None)


def find(name: str) -> Exercise:
    """The exercise called ``name``, or the only one whose name starts so (``01``, ``01_func``)."""
    known = exercises()
    if name in known:
        return known[name]
    matches = [candidate for candidate in known if candidate.startswith(name)] if name else []
    if len(matches) == 1:
        return known[matches[0]]
    raise ValueError(f"unknown exercise {name!r}: choose one of {', '.join(sorted(known))}")
