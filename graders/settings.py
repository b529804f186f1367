"""The grading settings: command-line options, ini settings and environment variables, in one place."""
from __future__ import annotations

import multiprocessing
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

TARGET_ENV = "GRADERS_TARGET"
START_METHOD_ENV = "GRADERS_START_METHOD"
DEFAULT_TARGET = "exercises"
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
        "Write every check's outcome, points and message as JSON to this file.",
        None,
    ),
    "seed": (
        "--grading-seed",
        "Seed for the random inputs the graders generate (default: a new one each session).",
        None,
    ),
}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("grading", "grading parallel and concurrent Python exercises")
    for name, (flag, help_text, default) in _SETTINGS.items():
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
        report=Path(_value(config, "report")).resolve() if _value(config, "report") else None,
    )


def usable_cores() -> int:
    """Cores this process may really use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores
