"""``python -m graders progress|hint|watch``: the learner's loop, from the project folder.

progress reads the last gradings, hint reads the catalogue, neither grades anything; watch grades
the exercise again at every save. A wrong exercise or check name is refused in one line that lists
the right ones (a ValueError: graders.cli prints it and exits with 2).
"""
from __future__ import annotations

import argparse

TREE_HELP = "the folder of exercise folders: exercises (the default), solutions, or a path"


def register(commands) -> None:
    progress = commands.add_parser("progress", help="points and failing checks of every exercise, from the last gradings; what to do next")
    progress.add_argument("--tree", default="exercises", help=TREE_HELP)
    progress.set_defaults(run=run_progress)

    hint = commands.add_parser("hint", help="an exercise's hints, without grading: one more level at each call")
    hint.add_argument("exercise", help="an exercise, e.g. 01_functional (or the start of its name: 01)")
    hint.add_argument("check", nargs="?", help="one of its checks; without it, every check with its hint")
    hint.add_argument("--all", action="store_true", dest="show_all", help="every level of the check's hints at once")
    hint.add_argument("--tree", default="exercises", help=TREE_HELP)
    hint.set_defaults(run=run_hint)

    watch = commands.add_parser("watch", help="grade an exercise again whenever one of its modules is saved")
    watch.add_argument("exercise", help="an exercise, e.g. 01_functional (or the start of its name: 01)")
    watch.add_argument("--tree", default="exercises", help=TREE_HELP)
    watch.add_argument("--once", action="store_true", help="grade once and exit")
    watch.add_argument("--max-runs", type=_positive, metavar="N", help="exit after N gradings (the first one included)")
    watch.set_defaults(run=run_watch)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def run_progress(args: argparse.Namespace) -> int:
    from graders.loop import progress, workspace

    print(progress.report(workspace.workspace(args.tree)))
    return 0


def run_hint(args: argparse.Namespace) -> int:
    from graders.loop import hints, workspace

    exercise = workspace.exercise(args.exercise)
    space = workspace.workspace(args.tree)
    if args.check is None:
        print(hints.for_exercise(space, exercise))
    else:
        print(hints.for_check(space, exercise, args.check, show_all=args.show_all))
    return 0


def run_watch(args: argparse.Namespace) -> int:
    from graders.loop import watch, workspace

    exercise = workspace.exercise(args.exercise)
    space = workspace.workspace(args.tree)
    max_runs = 1 if args.once else args.max_runs
    return watch.watch(space, exercise, max_runs)
