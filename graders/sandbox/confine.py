"""Confining graded code: what it may write, see, reach and start, whoever runs the grader.

The grading process may be root (a course server, a container, CI) or a learner on a laptop. Either
way the sandbox process, before it imports any learner code, confines itself with :meth:`Confinement.enter`;
its children inherit everything. Where the kernel allows user namespaces (most Linux systems, root or
not), the sandbox is started by ``unshare`` in new user, mount, pid and network namespaces and then:

- sees its own processes only, and is pid 1 there: when it dies, the kernel kills every process of
  the namespace, and ``setpriv --pdeathsig`` / ``unshare --kill-child`` make it die with the grading
  process, so nothing survives a grader that was killed;
- writes only to a size-limited tmpfs holding the copy of the submission, its home and temporary
  folder, and to a fresh, size-limited ``/dev/shm``: every other mount is read-only (site-packages,
  the grader, the submission itself, cgroup files), and the grader's answer key (its suites, its tests,
  the reference solutions) is hidden under empty folders;
- has a network of its own with loopback only;
- drops every capability and sets no_new_privs, so it can neither remount, nor raise a hard limit,
  nor gain rights by running a setuid program;
- has hard resource limits: address space, CPU time, file size, open files, and threads, which Linux
  counts per user namespace, so an ordinary user's browser with hundreds of threads takes none of
  the sandbox's share.

Where namespaces cannot be made, the same limits apply without them, the thread limit counted on top
of the user's own threads, and the grader watches files from outside (graders.sandbox.parent). README.md
says what is guaranteed in each case.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass

# Environment switch for systems where namespaces misbehave: GRADERS_CONFINE=limits.
MODE_ENV = "GRADERS_CONFINE"

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME, _MS_BIND = 32, 1024, 2048, 4096
_MS_RELATIME = 1 << 21
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_ST_FLAGS = {
    os.ST_NOSUID: _MS_NOSUID,
    os.ST_NODEV: _MS_NODEV,
    os.ST_NOEXEC: _MS_NOEXEC,
    os.ST_NOATIME: _MS_NOATIME,
    os.ST_NODIRATIME: _MS_NODIRATIME,
    os.ST_RELATIME: _MS_RELATIME,
}


class ConfinementFailed(RuntimeError):
    """The sandbox could not confine itself as asked; it must not run learner code."""


@dataclass(frozen=True)
class Confinement:
    """What the sandbox applies to itself before it imports learner code (inherited by its children)."""

    namespaces: bool
    # The scratch folder's parts: the submission copy to work on, and where its writable tmpfs goes.
    submission: str
    box: str
    hidden: tuple[str, ...] = ()
    cgroup_procs: str | None = None
    max_threads: int = 128
    max_memory_bytes: int = 8 << 30
    max_cpu_seconds: int = 600
    max_file_bytes: int = 256 << 20
    max_open_files: int = 4096
    box_bytes: int = 512 << 20
    shm_bytes: int = 256 << 20

    def enter(self) -> str:
        """Confine this process; returns the folder learner code works on (its copy of the submission)."""
        if self.cgroup_procs:
            _write(self.cgroup_procs, "0")
        if self.namespaces:
            _mount_fresh_proc()
            work = self._own_writable_box()
            _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={self.shm_bytes},mode=1777")
            for folder in self.hidden:
                if os.path.isdir(folder):
                    _mount("tmpfs", folder, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=4k,mode=0555")
            _everything_else_read_only(keep={self.box, "/dev/shm", "/proc", *self.hidden})
            _loopback_up()
        else:
            work = self._box_on_disk()
        _drop_privileges()
        self._hard_limits()
        return work

    def _own_writable_box(self) -> str:
        _mount("tmpfs", self.box, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={self.box_bytes},mode=0755")
        return self._box_on_disk()

    def _box_on_disk(self) -> str:
        submission = os.path.join(self.box, "submission")
        shutil.copytree(self.submission, submission, dirs_exist_ok=True)
        for name in ("home", "tmp", "work"):
            os.makedirs(os.path.join(self.box, name), exist_ok=True)
        return submission

    def _hard_limits(self) -> None:
        threads = self.max_threads if self.namespaces else _threads_of_user() + self.max_threads
        for kind, value in (
            (resource.RLIMIT_NPROC, threads),
            (resource.RLIMIT_AS, self.max_memory_bytes),
            (resource.RLIMIT_CPU, self.max_cpu_seconds),
            (resource.RLIMIT_FSIZE, self.max_file_bytes),
            (resource.RLIMIT_NOFILE, self.max_open_files),
            (resource.RLIMIT_CORE, 0),
        ):
            _hard_limit(kind, value)


# ---------------------------------------------------------------- the grading process's side


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """Whether this system lets us confine a sandbox in namespaces (probed once, with the real steps)."""
    if os.environ.get(MODE_ENV, "").lower() == "limits" or not sys.platform.startswith("linux"):
        return False
    if shutil.which("unshare") is None:
        return False
    probe = [*_unshare(), sys.executable, "-c", "from graders.sandbox.confine import _probe; _probe()"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, env={**os.environ, "PYTHONSAFEPATH": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == b"confined"


def launcher(namespaces: bool) -> list[str]:
    """The command that starts a sandbox: dies with the grader, and makes its namespaces."""
    prefix = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
    return prefix + (_unshare() if namespaces else [])


def describe(namespaces: bool, cgroup: str | None) -> str:
    """One header line saying what confines graded code here."""
    processes = f"a pids cgroup ({cgroup})" if cgroup else "a thread limit"
    if namespaces:
        return (
            f"containment: own user, pid, mount and network namespaces; read-only file system but a "
            f"scratch tmpfs; no capabilities; {processes}"
        )
    return f"containment: resource limits only (no namespaces here), {processes}; files watched from outside"


def _unshare() -> list[str]:
    return ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--net",
            "--propagation", "private", "--"]


def _probe() -> None:
    """Inside the namespaces: the steps a sandbox takes, on throwaway folders."""
    import tempfile

    _mount_fresh_proc()
    box = tempfile.mkdtemp()
    _mount("tmpfs", box, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m")
    _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=1777")
    _everything_else_read_only(keep={box, "/dev/shm", "/proc"})
    _loopback_up()
    _drop_privileges()
    print("confined")


# ---------------------------------------------------------------- inside the sandbox


@functools.lru_cache(maxsize=1)
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
    return libc


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    if _libc().mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        code = ctypes.get_errno()
        raise ConfinementFailed(f"mount {fstype or 'remount'} on {target}: {os.strerror(code)}")


def _mount_fresh_proc() -> None:
    # A /proc of this pid namespace; where a container masks parts of /proc the kernel refuses a
    # new one, and the old one stays (it shows more processes, but none the sandbox can signal).
    try:
        _mount("proc", "/proc", "proc", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    except ConfinementFailed:
        pass


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = [line.split()[4] for line in handle]
    unescape = lambda p: p.encode().decode("unicode_escape").encode("latin-1").decode()  # noqa: E731
    return [unescape(p) for p in points]


def _everything_else_read_only(keep: set[str]) -> None:
    kept = {os.path.realpath(path) for path in keep}
    for point in _mount_points():
        # The fresh /proc is read-only already, and so is everything mounted below it.
        if point in kept or point.startswith("/proc/"):
            continue
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue  # hidden below another mount: out of reach anyway
        if flags & os.ST_RDONLY:
            continue
        locked = sum(ms for st, ms in _ST_FLAGS.items() if flags & st)
        try:
            _mount(None, point, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | locked)
        except ConfinementFailed:
            if point == "/":
                raise
            # A mount we may not touch (owned by another namespace) and cannot write: leave it.
            if not os.statvfs(point).f_flag & os.ST_RDONLY and os.access(point, os.W_OK):
                raise


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def _drop_privileges() -> None:
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise ConfinementFailed("no_new_privs could not be set")
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for capability in range(_last_capability() + 1):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.EPERM):
            raise ConfinementFailed(f"capability {capability} could not be dropped")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    if libc.syscall(126 if os.uname().machine == "x86_64" else 91, header, data) != 0:  # capset
        raise ConfinementFailed("capabilities could not be dropped")


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


def _hard_limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError) as exc:
        raise ConfinementFailed(f"resource limit {kind} could not be set: {exc}") from None


def _threads_of_user() -> int:
    """Threads this user runs now: without a user namespace, Linux counts them all against RLIMIT_NPROC."""
    uid = os.getuid()
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return total


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(text)
    except OSError as exc:
        raise ConfinementFailed(f"could not join the sandbox's cgroup ({path}): {exc}") from None
