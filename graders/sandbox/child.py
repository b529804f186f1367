"""The child process that runs learner code: ``python -m graders.sandbox.child REQUEST CONTROL_FD ACK_FD``.

Each graded run gets a fresh interpreter, started by the grading process in namespaces of its own
where the system allows (graders.sandbox.confine). Before any learner code is imported, it guards: confines
itself, starts multiprocessing's helper processes (so they are known not to be the learner's), and
shuts the grader's own modules away from learner imports. Then it instruments (task tracing), calls
each requested function, and returns plain data: each call's start and end, and its outcome encoded by
graders.sandbox.codec, as frames on the control pipe (graders.sandbox.protocol). The grading process stamps the times,
lists leftover processes and decodes the outcomes itself, so nothing the learner's code could write
here counts as evidence.

Imported as ``__mp_main__`` (in every spawn or forkserver worker) this module only re-installs the
task tracing and the import guard; keep its import cheap and free of other side effects.
"""
from __future__ import annotations

import os
import sys

from graders.sandbox import tracing

# Grader modules learner code may import: the ones loaded before it runs (a worker gets the list).
ALLOWED_ENV = "GRADERS_ALLOWED_MODULES"

if __name__ == "__mp_main__":
    tracing.install_from_environment()


# The grading side, and the answer key: the grader's suites and tests, its reference implementations
# and its copies of given functions (the last ones only where the run's own helpers loaded them before
# the learner's module). Named by package, so a module added there is shut away without a list to keep.
_GRADING_SIDE = ("graders.grading", "graders.report", "graders.classroom", "graders.sandbox.parent",
                 "graders.sandbox.trace_channel", "graders.sandbox.limits", "graders.cli")
_ANSWER_KEY = ("graders.suite", "graders.tests", "graders.harnesses.reference", "graders.harnesses.pipeline_reference", "graders.given")


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


class _GraderModulesShut:
    """A meta-path finder that refuses the grader's own modules (its answer key) to learner code."""

    def __init__(self, allowed: set[str]):
        self.allowed = allowed

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "solutions" or _within(name, _GRADING_SIDE) or (_within(name, _ANSWER_KEY) and name not in self.allowed):
            raise ImportError(f"graded code may not import {name}: the grader's modules are not part of the exercise")
        return None


def _shut_grader_modules(allowed: set[str]) -> None:
    sys.meta_path.insert(0, _GraderModulesShut(allowed))


if __name__ == "__mp_main__" and os.environ.get(ALLOWED_ENV):
    _shut_grader_modules(set(os.environ[ALLOWED_ENV].split(",")))


def main(argv: list[str]) -> None:
    import functools
    import gc
    import importlib
    import multiprocessing
    import pickle
    import warnings

    from graders.sandbox import calls as c
    from graders.sandbox import codec, confine, learner
    from graders.sandbox.protocol import write_frame

    request_path, control_fd, ack_fd = argv[1], int(argv[2]), int(argv[3])
    with open(request_path, "rb") as handle:
        request: c.Request = pickle.load(handle)

    def send(kind: bytes, index: int = 0, payload: bytes = b"") -> None:
        write_frame(control_fd, kind, index, payload)

    try:
        work = request.confinement.enter()
    except Exception as exc:  # noqa: BLE001 - no learner code runs unconfined
        send(b"F", 0, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
        os._exit(3)
    if os.getpid() == 1:
        _become_init(control_fd, ack_fd)
    os.chdir(os.path.join(os.path.dirname(work), "work"))
    sys.path[:] = [work, *request.sys_path]
    if request.start_method:
        multiprocessing.set_start_method(request.start_method, force=True)
    if request.trace_spec_json:
        os.environ[tracing.SPEC_ENV] = request.trace_spec_json
    # Grader helpers came by reference: unpickling the request imported their modules, before the guard.
    allowed = {name for name in sys.modules if name.split(".")[0] == "graders"}
    os.environ[ALLOWED_ENV] = ",".join(sorted(allowed))
    _start_multiprocessing_helpers()
    _watch_pool_workers(lambda signal_number: send(b"K", 0, str(signal_number).encode("ascii")))
    protected = _protected_objects()

    def ack() -> None:
        os.read(ack_fd, 1)

    def save(index: int, outcome: c.Outcome) -> None:
        """Hand over a call's outcome: the grader lists its leftovers first, then takes the outcome."""
        send(b"L", index)
        ack()
        try:
            data = codec.dumps(outcome)
        except Exception as exc:  # noqa: BLE001 - whatever the learner returned
            error = str(exc) if isinstance(exc, codec.NotData) else f"{type(exc).__name__}: {exc}"
            data = codec.dumps(c.Outcome(c.BAD_RETURN, error=error, leftovers=list(map(str, outcome.leftovers))))
        send(b"O", index, data)

    # The grader takes note of the processes that are ours (the helpers) before it answers.
    send(b"R")
    ack()
    _shut_grader_modules(allowed)
    module_file = os.path.join(work, request.module + ".py")
    failure = None
    if not os.path.exists(module_file):
        failure = c.Outcome(c.MISSING_MODULE, missing=os.path.join(os.path.basename(work), request.module + ".py"))
    else:
        try:
            module = importlib.import_module(request.module)
            if request.trace_spec_json:
                tracing.install(tracing.TraceSpec.from_json(request.trace_spec_json))
        except BaseException as exc:  # noqa: BLE001 - a learner's module may raise anything
            failure = c.Outcome(c.IMPORT_ERROR, error=learner.one_line(exc), where=learner.where(exc, work))
    if failure is not None:
        for index in range(len(request.calls)):
            save(index, failure)
        send(b"D")
        os._exit(0)

    for index, call in enumerate(request.calls):
        if call.is_helper:
            function = functools.partial(call.function, module)
        else:
            function = learner.function_of(module, call.function)
            if isinstance(function, c.Outcome):
                save(index, function)
                continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            # The grader stamps the start before it answers: no call is timed from later than it began.
            send(b"S", index)
            ack()
            outcome = learner.call(lambda: function(*call.args, **call.kwargs), work)
            send(b"E", index)
            gc.collect()
        _wait_for_children()
        patched = [name for name, (read, original) in protected.items() if read() is not original]
        if patched:
            outcome = c.Outcome(c.TAMPERED, error=", ".join(patched))
        outcome.leftovers = _unclosed_pools(caught)
        if request.keep_args:
            outcome.args_after = call.args
        save(index, outcome)
    send(b"D")
    # Skip interpreter shutdown: atexit would join any process the learner left running.
    os._exit(0)


def _become_init(control_fd: int, ack_fd: int) -> None:
    """In a pid namespace of its own, stay behind as its init and run the sandbox as its child.

    Linux spares a namespace's pid 1 every signal it has no handler for, so learner code must not
    run as pid 1 (``os.kill(os.getpid(), SIGKILL)`` would do nothing). This init reaps every orphan,
    tells the grader how the sandbox ended (an X frame: it knows the signal, an exit code cannot say
    it), and exits, which ends the namespace and every process left in it.
    """
    from graders.sandbox.protocol import write_frame

    child = os.fork()
    if child == 0:
        return
    os.close(ack_fd)
    os.closerange(3, control_fd)
    os.closerange(control_fd + 1, 1 << 16)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == child:
            if os.WIFSIGNALED(status):
                ended = f"killed by signal {os.WTERMSIG(status)}"
            else:
                ended = f"exit code {os.WEXITSTATUS(status)}"
            try:
                write_frame(control_fd, b"X", 0, ended.encode("ascii"))
            except OSError:
                pass
            os._exit(0)


def _watch_pool_workers(report) -> None:
    """Report a pool worker killed by a signal (a segfault, the kernel's OOM killer) at once.

    ``multiprocessing.Pool`` replaces such a worker and waits forever for the task it lost, so
    without this the call would hang until its deadline and be reported as an endless loop.
    """
    import multiprocessing.pool

    original = multiprocessing.pool.Pool._join_exited_workers

    def join_exited_workers(pool):
        for worker in list(pool):
            if worker.exitcode is not None and worker.exitcode < 0:
                report(-worker.exitcode)
        return original(pool)

    multiprocessing.pool.Pool._join_exited_workers = staticmethod(join_exited_workers)


def _start_multiprocessing_helpers() -> None:
    """Start the resource tracker (and the fork server) now, so the grader knows them for its own."""
    import multiprocessing
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    if multiprocessing.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _wait_for_children(seconds: float = 0.5) -> None:
    """Give processes the call ended a moment to exit before the grader looks for leftovers."""
    import multiprocessing
    import time

    deadline = time.monotonic() + seconds
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.02)


def _protected_objects() -> dict:
    """What learner code must not replace to fake evidence: name -> (how to read it now, original)."""
    import multiprocessing
    import multiprocessing.pool
    import time

    readers = {
        "time.monotonic": lambda: time.monotonic,
        "time.perf_counter": lambda: time.perf_counter,
        "os.getpid": lambda: os.getpid,
        "os.write": lambda: os.write,
        "multiprocessing.Pool": lambda: vars(multiprocessing)["Pool"],
        "multiprocessing.Process": lambda: vars(multiprocessing)["Process"],
        "multiprocessing.pool.Pool": lambda: multiprocessing.pool.Pool,
        "graders.sandbox.tracing.TracedTask.__call__": lambda: vars(tracing.TracedTask)["__call__"],
    }
    for name in tracing.PROTECTED_NAMES:
        readers[f"graders.sandbox.tracing.{name}"] = lambda name=name: vars(tracing)[name]
    return {name: (read, read()) for name, read in readers.items()}


def _unclosed_pools(caught) -> list[str]:
    return [
        "a multiprocessing pool was left open: it was never closed or terminated (use `with Pool(...) as pool:`)"
        for warning in caught
        if issubclass(warning.category, ResourceWarning) and "pool" in str(warning.message).lower()
    ][:1]


if __name__ == "__main__":
    main(sys.argv)
