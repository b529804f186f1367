"""Grading as an ordinary user with a busy user beside it (shared by the benchmark and the project's tests).

Root is exempt from the limits an ordinary user meets: Linux counts every *thread* of a user against
``RLIMIT_NPROC``, so a learner whose browser or IDE holds hundreds of threads sees ``fork`` fail
where root never does. To see what a learner sees, the graders are run:

- as root: as the dedicated system user ``graders-learner``, with the interpreter of its own venv
  (``/var/tmp/graders-learner-venv``, made from ``/usr/bin/python3``, since pyenv's interpreters
  under ``/root`` are out of an ordinary user's reach) and on a copy of the project that user owns
  and has installed in editable mode, as a learner would. The copy is refreshed before each use, so
  the code graded is the current tree's. ``python -m graders.tests.unprivileged setup`` makes the
  user and the venv;
- as anyone else: as themselves, with this interpreter, on the project itself.

``busy_user`` starts a program of that same user holding ``BUSY_THREADS`` threads (like a browser or
an IDE) for as long as the grading runs.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

PROJECT = Path(__file__).resolve().parents[2]
USER = "graders-learner"
VENV = Path("/var/tmp/graders-learner-venv")
BASE_PYTHON = "/usr/bin/python3"
SETUP_COMMAND = "python -m graders.tests.unprivileged setup"
BUSY_THREADS = 300
_COPY = VENV / "project"
_MARKER = VENV / "graders-setup.json"
_LOCK = VENV.with_name(VENV.name + ".lock")
# Left out of the copy: at the top of the project only / at any depth.
_NOT_COPIED_AT_TOP = {".git", ".tox", ".venv", ".benchmarks", "build", "dist", "course"}
_NOT_COPIED = {"__pycache__", ".pytest_cache"}
# What the learner's environment keeps of ours.
_PASSED_ON = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")


class NotReady(RuntimeError):
    """The ordinary user or its venv is missing or out of date: run the setup command."""


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class Learner:
    """Whom commands run as, with which interpreter, on which copy of the project."""

    name: str
    uid: int
    gid: int
    home: Path
    python: Path
    project: Path
    switch: bool  # run through setpriv as that user (we are root), or as we are

    def argv(self, command: list[str]) -> list[str]:
        if not self.switch:
            return list(command)
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", *command]

    def environment(self, **extra: str) -> dict[str, str]:
        """The environment a command of this user gets: its own home, its venv's scripts first on PATH."""
        scripts = str(self.python.parent)
        if self.switch:
            env = {k: v for k, v in os.environ.items() if k in _PASSED_ON or k.startswith(("GRADERS_", "PIP_"))}
            env.update(HOME=str(self.home), USER=self.name, LOGNAME=self.name, PATH=f"{scripts}:/usr/local/bin:/usr/bin:/bin")
        else:
            env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
            env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
        env.update(extra)
        return env

    def run(self, command: list[str], *, cwd: Path | None = None, timeout: float | None = None,
            env: dict[str, str] | None = None, capture: bool = True) -> subprocess.CompletedProcess:
        """Run ``command`` as this user; past ``timeout`` it is killed with every process under it
        (returncode -9, the output so far kept)."""
        pipe = subprocess.PIPE if capture else None
        with self.popen(command, cwd=cwd or self.project, env=self.environment(**(env or {})),
                        stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe, text=True) as process:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(process.pid)
                out, err = process.communicate()
                err = (err or "") + f"\n[killed after {timeout:g} s]\n"
        return subprocess.CompletedProcess(process.args, process.returncode, out or "", err or "")

    def popen(self, command: list[str], **options) -> subprocess.Popen:
        options.setdefault("cwd", self.project)
        options.setdefault("env", self.environment())
        return subprocess.Popen(self.argv(command), **options)

    def own(self, folder: Path) -> None:
        """Give ``folder`` and everything in it to this user (a learner's own files are writable)."""
        if self.switch:
            _chown_tree(folder, self.uid, self.gid)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A temporary folder this user owns (for reports and the like), removed afterwards."""
        folder = Path(tempfile.mkdtemp(prefix="graders-ordinary-user-"))
        try:
            if self.switch:
                os.chown(folder, self.uid, self.gid)
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def venv_problem(project: Path = PROJECT) -> str | None:
    """Why the ordinary user cannot run the graders yet (None when it can), with what to do about it."""
    if not is_root():
        return None
    todo = f"as root, run `{SETUP_COMMAND}` (in {project}) to make it"
    try:
        user = pwd.getpwnam(USER)
    except KeyError:
        return f"the user {USER} does not exist: {todo}"
    python = VENV / "bin" / "python"
    if not python.exists():
        return f"the venv of {USER} ({VENV}) is missing: {todo}"
    if VENV.stat().st_uid != user.pw_uid:
        return f"the venv {VENV} is not owned by {USER}: {todo}"
    try:
        marker = json.loads(_MARKER.read_text())
    except (OSError, ValueError):
        return f"the venv {VENV} has no finished install of the project: {todo}"
    if marker.get("pyproject_sha256") != _pyproject_hash(project):
        return f"the venv {VENV} was made for another pyproject.toml: {todo} again"
    return None


def setup(project: Path = PROJECT, log=print) -> None:
    """As root: the user ``graders-learner`` and its venv with the project installed (idempotent)."""
    if not is_root():
        log("not root: the tests run the graders as you, an ordinary user already; nothing to set up")
        return
    user = _ensure_user(log)
    learner = Learner(USER, user.pw_uid, user.pw_gid, Path(user.pw_dir), VENV / "bin" / "python", _COPY, True)
    with _locked():
        if VENV.exists() and VENV.stat().st_uid != user.pw_uid:
            log(f"giving {VENV} to {USER}")
            _chown_tree(VENV, user.pw_uid, user.pw_gid)
        if not learner.python.exists():
            log(f"making the venv {VENV} from {BASE_PYTHON} as {USER}")
            _checked(learner.run([BASE_PYTHON, "-m", "venv", str(VENV)], cwd=Path("/")))
        _refresh_copy(project, learner)
        if venv_problem(project) is None:
            log(f"{USER} and its venv {VENV} are ready")
            return
        _MARKER.unlink(missing_ok=True)
        log(f"installing the project (editable, from {_COPY}) with the distributed extra into {VENV}")
        _checked(learner.run(
            [str(learner.python), "-m", "pip", "install", "--quiet", "-e", f"{_COPY}[distributed]"], cwd=_COPY
        ))
        _MARKER.write_text(json.dumps({"pyproject_sha256": _pyproject_hash(project), "source": str(project)}))
        os.chown(_MARKER, user.pw_uid, user.pw_gid)
    log(f"{USER} and its venv {VENV} are ready")


@contextlib.contextmanager
def prepared(project: Path = PROJECT) -> Iterator[Learner]:
    """The ordinary user, ready to grade the current ``project``; raises NotReady when it cannot be.

    As root, the user's copy of the project is refreshed from ``project`` and held (a lock) until
    the block ends, so two runs never grade each other's copy.
    """
    if not is_root():
        user = pwd.getpwuid(os.getuid())
        yield Learner(user.pw_name, user.pw_uid, user.pw_gid, Path(user.pw_dir), Path(sys.executable), project, False)
        return
    problem = venv_problem(project)
    if problem:
        raise NotReady(problem)
    user = pwd.getpwnam(USER)
    learner = Learner(USER, user.pw_uid, user.pw_gid, Path(user.pw_dir), VENV / "bin" / "python", _COPY, True)
    with _locked():
        _refresh_copy(project, learner)
        yield learner


_BUSY_PROGRAM = """
import os, sys, threading, time
threading.stack_size(256 * 1024)
stop = threading.Event()
threads = [threading.Thread(target=stop.wait, daemon=True) for _ in range(int(sys.argv[1]))]
for thread in threads:
    thread.start()
print(len(threads), flush=True)
# Until whoever started us closes our stdin (or dies), and never longer than the given lifetime.
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
time.sleep(float(sys.argv[2]))
os._exit(0)
"""


@dataclass
class Busy:
    """A running program of the learner's user holding many threads."""

    process: subprocess.Popen
    threads: int

    def running_threads(self) -> int:
        """Threads the kernel counts for it now (0 once it ended)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:")), 0)


@contextlib.contextmanager
def busy_user(learner: Learner, threads: int = BUSY_THREADS, lifetime_s: float = 3600) -> Iterator[Busy]:
    """A program OF ``learner``'s user holding ``threads`` threads for the duration of the block."""
    process = learner.popen(
        [str(learner.python), "-c", _BUSY_PROGRAM, str(threads), str(lifetime_s)],
        cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        started = process.stdout.readline().strip()
        if started != str(threads):
            process.kill()
            raise RuntimeError(f"the busy program did not start its {threads} threads: {started!r} {process.stderr.read()[-2000:]}")
        busy = Busy(process, threads)
        # Its threads are all running once the kernel counts them.
        deadline = time.monotonic() + 10
        while busy.running_threads() < threads and time.monotonic() < deadline:
            time.sleep(0.05)
        yield busy
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def _kill_tree(pid: int) -> None:
    """Kill ``pid`` and every process under it (it is a subreaper when it is a grading run)."""
    import psutil

    try:
        top = psutil.Process(pid)
        family = [top, *top.children(recursive=True)]
    except psutil.Error:
        return
    for process in family:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(family, timeout=10)


def _ensure_user(log) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    log(f"adding the system user {USER}")
    _checked(subprocess.run(
        ["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", USER],
        capture_output=True, text=True, check=False,
    ))
    return pwd.getpwnam(USER)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with open(_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _refresh_copy(project: Path, learner: Learner) -> None:
    """Make the user's copy of the project equal to ``project`` (keeping the install's egg-info)."""
    _COPY.mkdir(exist_ok=True)
    for child in _COPY.iterdir():
        if child.name.endswith(".egg-info"):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder).resolve() == project.resolve()
        return {
            n for n in names
            if n in _NOT_COPIED or n.endswith((".pyc", ".egg-info")) or (top and n in _NOT_COPIED_AT_TOP)
        }

    shutil.copytree(project, _COPY, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    _chown_tree(_COPY, learner.uid, learner.gid)


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    os.lchown(top, uid, gid)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _pyproject_hash(project: Path) -> str | None:
    """A digest of what the install depends on: the build system, the project table, setuptools' settings.

    (Not pytest's settings: a new marker must not call for a new venv.)
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    relevant = {
        "build-system": data.get("build-system"),
        "project": data.get("project"),
        "setuptools": data.get("tool", {}).get("setuptools"),
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _checked(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, result.args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
