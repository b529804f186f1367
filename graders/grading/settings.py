"""The grading settings: command-line options, ini settings and environment variables, in one place."""
from __future__ import annotations

import multiprocessing
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

TARGET_ENV = "GRADERS_TARGET"
START_METHOD_ENV = "GRADERS_START_METHOD"
DEFAULT_TARGET = "exercises"
# Where the plugin also writes each failed check's timeline as an HTML fragment (<exercise>-<check>.html)
# and as text (.txt): nbgrader's autograde step (graders.classroom.autograde) sets it to read them back.
TIMELINE_DIR_ENV = "GRADERS_TIMELINE_DIR"
TIMELINE_HELP = (
    "Draw every traced run's timeline (a lane per process, a bar per task call, over time) after the "
    "summary, and write them as one HTML page per exercise under .graders/timelines/ (the ini setting: yes "
    "or no). A failed parallel or speed check shows its run's timeline either way."
)
START_METHODS = ("fork", "spawn", "forkserver")

# name: (option flag, help shared by the option and the ini setting, default)
_SETTINGS = {
    "target": (
        "--target",
        "Folder whose exercises are graded: exercises (the default), solutions, or a submission. "
        f"Precedence: this option, then the folder pytest was pointed at, then ${TARGET_ENV}, then "
        "the grading_target ini setting.",
        None,
    ),
    "start_method": (
        "--start-method",
        "multiprocessing start method for graded code: fork, spawn or forkserver "
        f"(default: the platform's; ${START_METHOD_ENV} also sets it).",
        None,
    ),
    "call_timeout": (
        "--call-timeout",
        "Seconds one graded call may run before it is stopped, with every process it started.",
        "60",
    ),
    "speedup_per_core": (
        "--speedup-per-core",
        "Speedup required per usable core beyond the first: required = 1 + this x (cores - 1).",
        "0.15",
    ),
    "speed_rounds": (
        "--speed-rounds",
        "Most interleaved serial/parallel rounds a speed check measures before it decides (at least 5: a failure rests on three rounds that timed the grader's reference beside your code).",
        "5",
    ),
    "report": (
        "--grading-report",
        "Write every check's status, points, message and hint as JSON to this file (graders.report.model).",
        None,
    ),
    "gradescope": (
        "--gradescope",
        "Write Gradescope's results.json (score, tests with name, score, max_score, status, output) to this file.",
        None,
    ),
    "csv": (
        "--grading-csv",
        "Write a CSV table to this file: one row per graded folder, with its total and the points of each check.",
        None,
    ),
    "history": (
        "--grading-history",
        "Keep each fully graded exercise's result under .graders/last/ in the project, for `python -m graders progress`: yes or no.",
        "yes",
    ),
    "seed": (
        "--grading-seed",
        "Seed for the random inputs the graders generate (default: a new one each session).",
        None,
    ),
    "timeline": ("--timeline", TIMELINE_HELP, "no"),
}
# Options given as a bare flag on the command line (the ini setting takes yes or no).
_FLAGS = {"timeline"}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("grading", "grading parallel and concurrent Python exercises")
    for name, (flag, help_text, default) in _SETTINGS.items():
        if name in _FLAGS:
            group.addoption(flag, dest=f"grading_{name}", action="store_const", const="yes", default=None, help=help_text)
        else:
            group.addoption(flag, dest=f"grading_{name}", default=None, help=help_text)
        ini_help = help_text if default is None else f"{help_text} Default: {default}."
        parser.addini(f"grading_{name}", ini_help, default=default)


@dataclass(frozen=True)
class Settings:
    target_option: Path | None
    target_fallback: Path
    start_method: str
    call_timeout: float
    speedup_per_core: float
    speed_rounds: int
    seed: int
    usable_cores: int
    report: Path | None = None
    gradescope: Path | None = None
    csv: Path | None = None
    keep_history: bool = True
    timeline: bool = False

    def required_speedup(self, cores: int | None = None) -> float:
        cores = self.usable_cores if cores is None else cores
        return 1 + self.speedup_per_core * (max(cores, 1) - 1)

    def header_lines(self) -> list[str]:
        target = self.target_option or f"the folder given, else {self.target_fallback}"
        return [
            f"grading target: {target}",
            f"usable cores: {self.usable_cores} (CPU affinity and cgroup quota), start method: {self.start_method}",
            f"speedup required: {self.required_speedup():.2f}x (1 + {self.speedup_per_core:g} per extra core), "
            f"best of up to {self.speed_rounds} interleaved rounds; call timeout: {self.call_timeout:g} s; "
            f"seed: {self.seed}",
        ]


def _value(config: pytest.Config, name: str) -> str | None:
    option = config.getoption(f"grading_{name}")
    return option if option is not None else config.getini(f"grading_{name}") or None


def load(config: pytest.Config) -> Settings:
    option_target = config.getoption("grading_target")
    env_target = os.environ.get(TARGET_ENV)
    ini_target = config.getini("grading_target")
    if env_target:
        fallback = Path(env_target)
    elif ini_target:
        fallback = config.rootpath / ini_target
    else:
        fallback = config.rootpath / DEFAULT_TARGET
    start_method = (
        config.getoption("grading_start_method")
        or os.environ.get(START_METHOD_ENV)
        or config.getini("grading_start_method")
        or multiprocessing.get_all_start_methods()[0]
    )
    if start_method not in START_METHODS:
        raise pytest.UsageError(f"start method must be one of {', '.join(START_METHODS)}, not {start_method!r}")
    seed = _value(config, "seed")
    return Settings(
        target_option=Path(option_target).resolve() if option_target else None,
        target_fallback=fallback.resolve(),
        start_method=start_method,
        call_timeout=float(_value(config, "call_timeout")),
        speedup_per_core=float(_value(config, "speedup_per_core")),
        speed_rounds=max(1, int(_value(config, "speed_rounds"))),
        seed=int(seed) if seed is not None else random.SystemRandom().randrange(10**6),
        usable_cores=usable_cores(),
        report=_path(config, "report"),
        gradescope=_path(config, "gradescope"),
        csv=_path(config, "csv"),
        keep_history=str(_value(config, "history")).lower() not in ("no", "false", "0", "off"),
        timeline=str(_value(config, "timeline")).lower() in ("yes", "true", "1", "on"),
    )


def _path(config: pytest.Config, name: str) -> Path | None:
    value = _value(config, name)
    return Path(value).resolve() if value else None


def usable_cores(root: Path = Path("/")) -> int:
    """Cores this process may really use: its CPU affinity, capped by every cgroup CPU quota above it.

    Both cgroup versions are read, since a machine may mount both (v1 controllers beside a unified
    v2 hierarchy): v2's ``cpu.max`` and v1's ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, in the
    process's own cgroup and every ancestor up to the mount point (a parent's quota binds its
    children). The smallest of the affinity and every quota wins, rounded down, at least 1.
    ``root`` stands for ``/`` (tests give a fake tree).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min([cores, *(int(quota) for quota in cgroup_cpu_quotas(root))]))


def cgroup_cpu_quotas(root: Path = Path("/")) -> list[float]:
    """Every CPU quota (in cores) set on this process's cgroups or their ancestors, v1 and v2."""
    memberships = _cgroup_memberships(root / "proc/self/cgroup")
    quotas = []
    for version, mount_root, mount_point in _cgroup_mounts(root):
        path = memberships.get(version)
        if path is None:
            continue
        for folder in _cgroup_folders(root, mount_root, mount_point, path):
            quota = _v2_quota(folder) if version == "v2" else _v1_quota(folder)
            if quota is not None:
                quotas.append(quota)
    return quotas


def _cgroup_memberships(cgroup_file: Path) -> dict[str, str]:
    """The process's cgroup path in the v2 hierarchy and in v1's cpu hierarchy, from /proc/self/cgroup."""
    found: dict[str, str] = {}
    try:
        lines = cgroup_file.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            found.setdefault("v2", path)
        elif "cpu" in controllers.split(","):
            found.setdefault("v1", path)
    return found


_V2_GUESSES = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")
_V1_GUESSES = ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu")


def _cgroup_mounts(root: Path) -> list[tuple[str, str, str]]:
    """(version, root of the mount inside its hierarchy, mount point) of the v2 and v1-cpu mounts.

    Read from /proc/self/mountinfo; without it, the usual places are guessed.
    """
    try:
        lines = (root / "proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return [("v2", "/", p) for p in _V2_GUESSES if (_under(root, p) / "cgroup.controllers").is_file()] + [
            ("v1", "/", p) for p in _V1_GUESSES if (_under(root, p) / "cpu.cfs_quota_us").is_file()
        ]
    mounts = []
    for line in lines:
        # id parent major:minor root mount-point options [optional fields] - type source super-options
        before, separator, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if not separator or len(fields) < 5 or len(tail) < 3:
            continue
        mount_root, mount_point = _unescape(fields[3]), _unescape(fields[4])
        if tail[0] == "cgroup2":
            mounts.append(("v2", mount_root, mount_point))
        elif tail[0] == "cgroup" and "cpu" in tail[2].split(","):
            mounts.append(("v1", mount_root, mount_point))
    return mounts


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes (\040...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


def _cgroup_folders(root: Path, mount_root: str, mount_point: str, path: str) -> list[Path]:
    """The folders of the process's cgroup and of its ancestors visible under a mount, deepest first."""
    top = _under(root, mount_point)
    prefix = mount_root.rstrip("/")
    if path != prefix and not path.startswith(prefix + "/"):
        # The cgroup lies outside what this mount shows (another namespace's view): only the
        # mount's own folder, an ancestor of the process's cgroup, can be read.
        return [top]
    parts = [p for p in path[len(prefix):].split("/") if p]
    if ".." in parts:
        return [top]
    return [top.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return int(quota) / int(period) if quota != "max" and int(period) > 0 else None
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None
