"""Learner stubs are generated from the reference solutions, so the two never drift apart.

In a solution module, the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
markers) becomes ``raise NotImplementedError`` in the stub; the ``# TODO:`` comment above it stays.

    python -m graders.grading.stubs            # rewrite exercises/*/*.py from solutions/
    python -m graders.grading.stubs --check    # exit 1 if any stub differs from what would be generated
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_BEGIN_LINE = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION\s*$")


def make_stub(source: str) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin = _BEGIN_LINE.match(line)
        if begin:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            inside = True
            out.append(f"{begin['indent']}raise NotImplementedError\n")
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} is never closed")
    return "".join(out)


def strip_markers(source: str) -> str:
    """The solution without its marker lines, as a reader would want it."""
    return "".join(line for line in source.splitlines(keepends=True) if line.strip() not in (BEGIN, END))


def stub_pairs(root: Path):
    """(solution module, matching exercise module) for every solution module under ``root``."""
    for solution in sorted((root / "solutions").glob("*/*.py")):
        yield solution, root / "exercises" / solution.parent.name / solution.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder (default: here)")
    parser.add_argument("--check", action="store_true", help="report stale stubs instead of writing them")
    args = parser.parse_args(argv)
    stale = []
    for solution, stub in stub_pairs(args.root):
        wanted = make_stub(solution.read_text(encoding="utf-8"))
        if stub.exists() and stub.read_text(encoding="utf-8") == wanted:
            continue
        stale.append(stub)
        if not args.check:
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text(wanted, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
