"""``python -m graders class grade``: a whole class graded in parallel on Dask (graders.classroom.class_grading).

    python -m graders class grade SUBMISSIONS --exercise NN_topic --out DIR [--scheduler ADDRESS] [--slots N]

Without ``--scheduler`` a LocalCluster is started on this machine: ``--slots`` workers, each with an
equal share of the cores; with an address, the workers already running on the cluster are the slots.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from pathlib import Path


def register(commands) -> None:
    from graders.classroom.class_grading import DEFAULT_TIMEOUT_S
    from graders.grading.settings import START_METHODS

    group = commands.add_parser("class", help="grade a whole class in parallel on Dask (a LocalCluster, or any Dask cluster)")
    steps = group.add_subparsers(dest="step", required=True, metavar="STEP")
    grade = steps.add_parser(
        "grade", help="grade every learner folder (or an nbgrader course's submitted/ tree) of one exercise",
        description="Grade every submission of one exercise on a Dask cluster: structural checks side by side, "
        "speed checks each on cores of their own, inconclusive ones again at the end on a quiet cluster.",
    )
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                       help="a folder of learner folders, or an nbgrader course's submitted/ folder")
    grade.add_argument("--exercise", required=True, help="the exercise, e.g. 02_multiprocessing (or the start of its name: 02)")
    grade.add_argument("--out", type=Path, required=True, metavar="DIR", help="where grades.csv and the learners' reports go")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (tcp://host:8786); default: a LocalCluster here")
    grade.add_argument("--slots", type=_positive, metavar="N",
                       help="LocalCluster workers, each with cores of its own (default: one per 2 usable cores)")
    grade.add_argument("--lanes", type=_positive, metavar="N",
                       help="LocalCluster: submissions graded side by side per slot in the first pass (default: the slot's cores)")
    grade.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                       help=f"seconds one grading process may run before it is killed (default {DEFAULT_TIMEOUT_S:g})")
    grade.add_argument("--call-timeout", type=_seconds, metavar="S",
                       help="seconds per graded call of learner code (default: the course's, else 30)")
    grade.add_argument("--start-method", choices=START_METHODS, help="start method of the graded code (default: the course's, else the platform's)")
    grade.add_argument("--seed", type=int, help="one --grading-seed for every learner (default: a random one each, in the CSV)")
    grade.add_argument("--assignment", help="nbgrader assignment name (default: the exercise's name)")
    grade.add_argument("--no-gradebook", action="store_true", help="nbgrader course: do not write the gradebook")
    grade.add_argument("--no-regrade", action="store_true", help="leave inconclusive speed checks inconclusive (no quiet regrade at the end)")
    grade.add_argument("--dashboard-address", default=":8787", metavar="ADDRESS",
                       help="LocalCluster's dashboard (default :8787; another free port if taken)")
    grade.set_defaults(run=run_grade)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return number


def run_grade(args: argparse.Namespace) -> int:
    from graders.classroom import class_grading as cg
    from graders.classroom.notebook import CALL_TIMEOUT_ENV, DEFAULT_CALL_TIMEOUT_S, env_seconds
    from graders.grading.settings import START_METHOD_ENV
    from graders.grading.catalog import find as find_exercise

    exercise = find_exercise(args.exercise)
    if args.scheduler and (args.slots or args.lanes):
        raise ValueError("--slots and --lanes size a LocalCluster; on a cluster the workers are the slots "
                           "(dask worker --nworkers N --nthreads LANES on each host)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ValueError("Dask is not installed: pip install 'parallel-python-graded[distributed]'") from None
    course = None if args.no_gradebook else _course(args.submissions)
    assignment = args.assignment or exercise.name
    if course is not None:
        from graders.classroom import class_gradebook

        # The course's configuration sets the call timeout and start method of its autograding.
        config = class_gradebook.load_config(course)
        class_gradebook.check_assignment(course, assignment, config)
    submissions = cg.find_submissions(args.submissions, exercise, assignment, args.seed)
    options = cg.ClassOptions(
        exercise=exercise, timeout=args.timeout,
        call_timeout=args.call_timeout or env_seconds(CALL_TIMEOUT_ENV, DEFAULT_CALL_TIMEOUT_S),
        start_method=args.start_method or os.environ.get(START_METHOD_ENV) or None,
        regrade=not args.no_regrade,
    )
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(submissions)} submissions of {exercise.name} in {args.submissions}"
          + (f" (nbgrader course {course}, assignment {assignment})" if course else ""))
    started = time.monotonic()
    with _cluster(args) as client:
        slots, warnings = cg.plan_slots(client, timed=bool(cg.speed_checks(exercise)))
        print(f"Dask dashboard: {_dashboard(client)}")
        for slot in slots:
            print(f"slot {slot.address} on {slot.host}: cores {','.join(map(str, slot.cores))}; "
                  f"{slot.lanes} submission{'s' if slot.lanes != 1 else ''} side by side in the first pass")
        for warning in warnings:
            print(f"warning: {warning}")
        _register_worker_plugin(client)
        progress = cg.Progress()
        grading = cg.ClassGrading(client, slots, submissions, options, progress, on_done=lambda g: cg.write_learner(out, g))
        grades = grading.run()
        progress.finish()
    seconds = time.monotonic() - started
    csv_path = cg.write_csv(out, grades)
    cg.write_run(out, exercise.name, slots, grades, seconds)
    print(f"wrote {csv_path} and {len(grades)} learners' reports in {out / 'learners'} (grading-report.json, Gradescope's results.json)")
    problems = []
    if course is not None:
        from graders.classroom import class_gradebook

        learners = {g.submission.learner: {"problem": g.problem or g.submission.note,
                                           "checks": cg.verdicts(exercise, g.result)} for g in grades}
        problems = class_gradebook.write(course, assignment, exercise.name, learners, out)
        for problem in problems:
            print(f"warning: {problem}")
    print(cg.summary(grades, seconds))
    return 1 if problems else 0


def _course(submissions: Path) -> Path | None:
    """The nbgrader course whose submitted/ tree this is (its config and gradebook beside it), if it is one."""
    root = Path(submissions).resolve()
    if root.name != "submitted" or not any((root.parent / name).is_file() for name in ("nbgrader_config.py", "gradebook.db")):
        return None
    try:
        from graders.classroom.class_gradebook import course_of
    except ImportError:
    
        raise ValueError(f"{root} is an nbgrader course's submitted/ tree, and nbgrader is not installed: "
                           "pip install 'parallel-python-graded[nbgrader]', or pass --no-gradebook") from None
    return course_of(root)


@contextlib.contextmanager
def _cluster(args: argparse.Namespace):
    from distributed import Client, LocalCluster

    from graders.classroom.class_grading import DEFAULT_SLOT_CORES
    from graders.grading.settings import usable_cores

    if args.scheduler:
        with Client(args.scheduler, timeout="30s") as client:
            yield client
        return
    cpus = len(os.sched_getaffinity(0))
    slots = args.slots or max(1, usable_cores() // DEFAULT_SLOT_CORES)
    lanes = args.lanes or max(1, cpus // slots)
    with LocalCluster(
        n_workers=slots, threads_per_worker=lanes, processes=True, dashboard_address=args.dashboard_address,
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster) as client:
        yield client


def _dashboard(client) -> str:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return f"{client.dashboard_link} (install bokeh>=3.1 for its pages)"
    return client.dashboard_link


def _register_worker_plugin(client) -> None:
    from graders.classroom.class_worker import StopGradingsOnClose

    register = getattr(client, "register_plugin", None) or client.register_worker_plugin
    register(StopGradingsOnClose())

