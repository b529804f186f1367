"""``python -m graders course build|inconclusive``: the nbgrader course, for instructors."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(commands) -> None:
    from graders.classroom.notebook import DEFAULT_CALL_TIMEOUT_S, DEFAULT_CELL_TIMEOUT_S
    from graders.grading.settings import START_METHODS

    course = commands.add_parser("course", help="generate an nbgrader course from the exercises; list submissions to grade again")
    steps = course.add_subparsers(dest="step", required=True, metavar="STEP")
    make = steps.add_parser("build", help="write nbgrader_config.py and source/<exercise>/<exercise>.ipynb")
    make.add_argument("course_dir", type=Path)
    make.add_argument("--root", type=Path, default=Path.cwd(), help="the project folder, with solutions/ (default: here)")
    make.add_argument("--course-id", default="parallel-python")
    make.add_argument("--exercises", nargs="+", metavar="NAME", help="default: every exercise with a solutions/ folder")
    make.add_argument("--cell-timeout", type=int, default=int(DEFAULT_CELL_TIMEOUT_S), help="seconds per notebook cell (nbgrader's Execute.timeout)")
    make.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT_S, help="seconds per graded call of learner code")
    make.add_argument("--start-method", choices=START_METHODS, help="start method for graded code (default: the platform's)")
    make.set_defaults(run=build)
    again = steps.add_parser("inconclusive", help="students to autograde again because a speed check was inconclusive")
    again.add_argument("course_dir", type=Path)
    again.add_argument("assignment")
    again.set_defaults(run=inconclusive)


def build(args: argparse.Namespace) -> int:
    from graders.classroom import course

    written = course.build(args.course_dir, args.root, args.exercises, args.course_id, args.cell_timeout, args.call_timeout, args.start_method)
    for path in written:
        print(f"wrote {path}")
    return 0


def inconclusive(args: argparse.Namespace) -> int:
    from graders.classroom import course

    for student, cells in course.inconclusive(args.course_dir, args.assignment).items():
        print(f"nbgrader autograde {args.assignment} --student {student} --force   # {', '.join(cells)}")
    return 0
