"""``python -m graders COMMAND``: the project's commands for learners, course authors and instructors.

Each command lives beside what it works on and registers itself here through a ``register(commands)``
function (an argparse sub-parser with ``run`` set to the function that does the work), so adding a
command is one module and one line in ``COMMANDS``; heavy imports (nbformat, Dask) happen only inside
the command that needs them.
"""
from __future__ import annotations

import argparse
import sys

from graders.classroom import class_commands, course_commands
from graders.loop import commands as loop_commands

COMMANDS = (loop_commands.register, course_commands.register, class_commands.register)


class CommandError(Exception):
    """A command could not do what was asked: its message says why, in one line (exit code 2)."""


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="python -m graders", description=__doc__.splitlines()[0])
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(commands)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (CommandError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
