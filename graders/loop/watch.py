"""``python -m graders watch EXERCISE``: grade the exercise again each time one of its modules is saved.

The learner keeps this running beside the editor: every save of a module of the exercise (and only
those: not ``__pycache__``, ``.graders``, an editor's swap or backup file, the sandbox's scratch
copies) grades the whole exercise again and shows the summary first, points and each failing check
with its hint, then the end of pytest's output. Grading runs in a pytest subprocess, never in this
process: a learner's module is imported fresh each time, and whatever it does cannot harm the watcher.

Changes are watched with watchfiles (operating-system notifications) when it is installed and works
here, else by polling the modules' modification times; both wait for the saves to settle (an editor
may write a file in several steps) before grading.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from graders.grading import catalog
from graders.loop import text
from graders.loop.workspace import Workspace, hint_of
from graders.report.model import ExerciseResult, GradingResults, Status

DEBOUNCE_S = 0.3
POLL_S = 0.2
TAIL_LINES = 12
# When pytest stopped before grading (a usage error, a crash), its output is all there is to show.
FAILED_TAIL_LINES = 40
CLEAR = "\x1b[2J\x1b[H"
LOG_FOLDER = Path(".graders") / "watch"


def module_files(folder: Path, exercise: catalog.Exercise) -> dict[str, Path]:
    return {f"{module}.py": folder / f"{module}.py" for module in exercise.modules}


def is_module_change(folder: Path, names: set[str], path: str | Path) -> bool:
    """Whether a changed path is one of the watched modules, directly in the exercise folder.

    Everything else in or below the folder is noise for grading: ``__pycache__``, ``.graders``, the
    sandbox's scratch copies (``graders-*/submission/cities.py``), swap and backup files
    (``.cities.py.swp``, ``cities.py~``, vim's ``4913`` probe).
    """
    path = Path(path)
    return path.name in names and path.parent == folder


class PollingWatcher:
    """Compares the modules' modification times, sizes and inodes every ``POLL_S`` seconds."""

    name = "polling"

    def __init__(self, folder: Path, names: set[str]):
        self.files = [folder / name for name in sorted(names)]
        self.seen = self._snapshot()

    def _snapshot(self) -> dict[Path, tuple | None]:
        found: dict[Path, tuple | None] = {}
        for path in self.files:
            try:
                stat = path.stat()
                found[path] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            except OSError:
                found[path] = None
        return found

    def wait(self) -> set[str]:
        """Block until a module changed and then stayed unchanged for ``DEBOUNCE_S``; their names."""
        changed: set[str] = set()
        quiet_since = None
        while True:
            time.sleep(POLL_S)
            now = self._snapshot()
            moved = {path.name for path in self.files if now[path] != self.seen[path]}
            self.seen = now
            if moved:
                changed |= moved
                quiet_since = time.monotonic()
            elif changed and time.monotonic() - quiet_since >= DEBOUNCE_S:
                return changed

    def close(self) -> None:
        pass


class NotifyWatcher:
    """watchfiles on the exercise folder alone (not below it); changes made while grading are kept."""

    name = "watchfiles"

    def __init__(self, folder: Path, names: set[str]):
        import watchfiles

        self.folder, self.names = folder, names
        # step: a change counts once nothing else changed for that long; debounce: the most to wait.
        self._changes = watchfiles.watch(
            folder, watch_filter=lambda _change, path: is_module_change(folder, names, path),
            debounce=1600, step=int(DEBOUNCE_S * 1000), rust_timeout=250, yield_on_timeout=True,
            recursive=False, raise_interrupt=True,
        )
        # The notifier starts with the generator; its first (empty) yield says it is listening.
        next(self._changes)

    def wait(self) -> set[str]:
        for changes in self._changes:
            if changes:
                return {Path(path).name for _change, path in changes}
        raise RuntimeError("the file watcher stopped")

    def close(self) -> None:
        self._changes.close()


def watcher(folder: Path, names: set[str]):
    """watchfiles' watcher when it can run here, else the polling one."""
    try:
        return NotifyWatcher(folder, names)
    except Exception:  # not installed, too old, or no notifications here (inotify limits, some network drives)
        return PollingWatcher(folder, names)


@dataclass
class Grading:
    result: ExerciseResult | None
    returncode: int
    output: list[str]
    seconds: float
    log: Path | None


def command(folder: Path, root: Path, report: Path) -> list[str]:
    return [
        sys.executable, "-m", "pytest", str(folder), "-p", "no:cacheprovider", "-q",
        "--grading-report", str(report), "--rootdir", str(root),
    ]


def grade(exercise: catalog.Exercise, folder: Path, root: Path) -> Grading:
    """One whole grading of the exercise by pytest in a subprocess (its own session, so that Ctrl-C
    reaches this process only, which then stops pytest with SIGINT and waits for its cleanup)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="graders-watch-") as scratch:
        report = Path(scratch) / "report.json"
        kept = _log_path(root, exercise)
        log = kept or Path(scratch) / "pytest.log"
        with log.open("w", encoding="utf-8") as output:
            child = subprocess.Popen(
                command(folder, root, report), cwd=root, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                returncode = child.wait()
            except KeyboardInterrupt:
                _stop(child)
                raise
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        result = None
        if report.exists():
            try:
                result = GradingResults.read(report).exercise(exercise.name)
            except (OSError, ValueError, KeyError, TypeError):
                result = None
        return Grading(result, returncode, lines, time.monotonic() - started, kept)


def _log_path(root: Path, exercise: catalog.Exercise) -> Path | None:
    try:
        folder = root / LOG_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{exercise.name}.log"
    except OSError:
        return None


def _stop(child: subprocess.Popen) -> None:
    """pytest's whole process group: SIGINT first (pytest then ends its graded calls), SIGKILL if it hangs."""
    if not hasattr(os, "killpg"):  # no process groups (Windows): the child alone
        child.kill()
        child.wait()
        return
    for sent, wait_s in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sent)
        except (ProcessLookupError, PermissionError):
            return
        try:
            child.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue  # a second Ctrl-C: stop waiting for pytest's cleanup


def summary(exercise: catalog.Exercise, grading: Grading, space: Workspace, run: int) -> str:
    """Points and each failing check with its message and hint, then the end of pytest's output."""
    stamp = f"graded at {time.strftime('%H:%M:%S')} in {grading.seconds:.1f} s, run {run}"
    result = grading.result
    lines: list[str] = []
    if result is None:
        lines.append(f"{exercise.name}: not graded — pytest ended (exit code {grading.returncode}) before grading it ({stamp}).")
        tail = FAILED_TAIL_LINES
    else:
        lines.append(f"{exercise.name}: {text.points(result.earned, result.total)} points ({stamp})")
        lines.append("")
        failing = [check for check in result.failing() if check.status is Status.FAILED]
        unsure = [check for check in result.failing() if check.status is Status.INCONCLUSIVE]
        for check in failing:
            lines.append(f"  FAILED {check.name} ({check.points:g} point{'s' if check.points != 1 else ''})")
            if check.message:
                lines.append(text.wrap(check.message, indent="      "))
            hint = hint_of(exercise, check)
            if hint:
                lines.append(text.wrap(hint, indent="      ", first="    Hint: "))
        for check in unsure:
            lines.append(f"  INCONCLUSIVE {check.name}: the machine was too busy to measure; it is graded again at the next save.")
        passing = [check.name for check in result.checks if check.status.earns]
        if not failing and not unsure:
            lines.append("  Every check passes. `python -m graders progress` shows what comes next.")
        elif passing:
            lines.append(text.wrap(", ".join(passing), indent="    ", first="  Passing: "))
        tail = TAIL_LINES
    output = grading.output[-tail:]
    where = f"; all of it in {space.display(grading.log)}" if grading.log is not None else ""
    lines += ["", f"-- pytest's output, last {len(output)} of {len(grading.output)} lines{where} --", *output]
    return "\n".join(lines)


def watch(space: Workspace, exercise: catalog.Exercise, max_runs: int | None = None) -> int:
    folder = exercise.folder_in(space.tree)
    files = module_files(folder, exercise)
    if not folder.is_dir() or folder.name != exercise.name:
        raise ValueError(f"no folder {exercise.name} in {space.display(space.tree)}: give --tree with the folder that holds it")
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise ValueError(f"{space.display(folder)} has no {', '.join(missing)}: {exercise.name}'s modules are {', '.join(files)}")
    # Ctrl-C stops watching even when this process was started with SIGINT ignored (a shell's
    # background job, some CI runners): Python leaves an inherited "ignore" in place otherwise.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A screen cleared before each grading shows the newest one alone; a single grading clears nothing.
    clear = sys.stdout.isatty() and max_runs != 1
    files_said = ", ".join(files)
    follower = None
    try:
        follower = watcher(folder.resolve(), set(files))
        run = 0
        reason = f"grading {exercise.name} in {space.display(folder)}…"
        while True:
            run += 1
            print(reason, flush=True)
            grading = grade(exercise, folder, space.root)
            print((CLEAR if clear else "\n") + summary(exercise, grading, space, run), flush=True)
            if max_runs is not None and run >= max_runs:
                return 0
            print(f"\nWatching {files_said} in {space.display(folder)}: save to grade again; Ctrl-C stops.", flush=True)
            changed = follower.wait()
            reason = f"{', '.join(sorted(changed))} saved: grading {exercise.name} again…"
    except KeyboardInterrupt:
        print("\nStopped watching.", flush=True)
        return 0
    finally:
        if follower is not None:
            follower.close()
