"""The child process that runs learner code: ``python -m graders.sandbox REQUEST CONTROL_FD``.

Each graded run gets a fresh interpreter in a session of its own, so the grading process can time
it from outside, stop it at a deadline and kill every process it started. The child tells the
parent on the control pipe when each call starts ("S i") and ends ("E i"); the parent takes the
times, so the learner's code cannot fake them by patching ``time``.

Imported as ``__mp_main__`` (in every spawn or forkserver worker) this module only re-installs the
task tracing; keep its import cheap and free of other side effects.
"""
from __future__ import annotations

import os
import sys

from graders import tracing

if __name__ == "__mp_main__":
    tracing.install_from_environment()


def main(argv: list[str]) -> None:
    import collections.abc
    import gc
    import importlib
    import multiprocessing
    import pickle
    import warnings

    from graders import calls as c

    request_path, control_fd = argv[1], int(argv[2])
    with open(request_path, "rb") as handle:
        request: c.Request = pickle.load(handle)
    out_dir = os.path.dirname(request_path)
    if request.limits is not None:
        request.limits.apply()
    protected = _protected_objects()
    sys.path[:] = [request.target_dir, *request.sys_path]
    if request.start_method:
        multiprocessing.set_start_method(request.start_method, force=True)
    if request.trace_spec_json:
        os.environ[tracing.SPEC_ENV] = request.trace_spec_json

    def send(message: str) -> None:
        os.write(control_fd, f"{message}\n".encode("ascii"))

    def save(index: int, outcome: c.Outcome) -> None:
        try:
            data = pickle.dumps(outcome)
        except Exception as exc:  # noqa: BLE001 - whatever the learner returned
            data = pickle.dumps(
                c.Outcome(
                    c.BAD_RETURN,
                    error=f"a {type(outcome.value).__name__}: {type(exc).__name__}: {exc}",
                    leftovers=outcome.leftovers,
                )
            )
        with open(os.path.join(out_dir, f"outcome-{index}.pkl"), "wb") as handle:
            handle.write(data)

    module_file = os.path.join(request.target_dir, request.module + ".py")
    failure = None
    if not os.path.exists(module_file):
        failure = c.Outcome(c.MISSING_MODULE, error=module_file)
    else:
        try:
            module = importlib.import_module(request.module)
            if request.trace_spec_json:
                tracing.install(tracing.TraceSpec.from_json(request.trace_spec_json))
        except BaseException as exc:  # noqa: BLE001 - a learner's module may raise anything
            failure = c.Outcome(c.IMPORT_ERROR, error=_one_line(exc), where=_where(exc, request.target_dir))
    if failure is not None:
        for index in range(len(request.calls)):
            save(index, failure)
        send("D")
        os._exit(0)

    for index, call in enumerate(request.calls):
        function = _resolve(module, call.function)
        if function is None:
            save(index, c.Outcome(c.MISSING_FUNCTION, error=", ".join(_public_functions(module))))
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            send(f"S {index}")
            try:
                value = function(*call.args, **call.kwargs)
                if isinstance(value, collections.abc.Iterator):
                    outcome = c.Outcome(c.LAZY_RETURN, error=type(value).__name__)
                else:
                    outcome = c.Outcome("ok", value=value)
            except BaseException as exc:  # noqa: BLE001 - classified for the learner below
                outcome = _classify(exc, request.target_dir)
            send(f"E {index}")
            gc.collect()
        patched = [name for name, (read, original) in protected.items() if read() is not original]
        if patched:
            outcome = c.Outcome(c.TAMPERED, error=", ".join(patched))
        outcome.leftovers = _leftovers() + _unclosed_pools(caught)
        if request.keep_args:
            outcome.args_after = call.args
        save(index, outcome)
    send("D")
    # Skip interpreter shutdown: atexit would join any process the learner left running.
    os._exit(0)


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
        "graders.tracing.TracedTask.__call__": lambda: vars(tracing.TracedTask)["__call__"],
    }
    for name in ("_record", "_send", "_append", "_rendezvous", "_original", "_clock", "_getpid", "read_events", "install"):
        readers[f"graders.tracing.{name}"] = lambda name=name: vars(tracing)[name]
    return {name: (read, read()) for name, read in readers.items()}


def _resolve(module, name: str):
    from graders.calls import HELPER_SEPARATOR

    if HELPER_SEPARATOR in name:
        import functools
        import importlib

        helper_module, helper_name = name.split(HELPER_SEPARATOR)
        helper = getattr(importlib.import_module(helper_module), helper_name)
        return functools.partial(helper, module)
    candidate = getattr(module, name, None)
    return candidate if callable(candidate) else None


def _public_functions(module) -> list[str]:
    import inspect

    return sorted(
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value) and not name.startswith("_") and value.__module__ == module.__name__
    )


def _classify(exc: BaseException, target_dir: str):
    from graders import calls as c

    chain = _chain(exc)
    texts = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    remote = next((e for e in chain if type(e).__name__ in ("RemoteTraceback", "_RemoteTraceback")), None)
    where = _where(exc, target_dir)
    if type(exc).__name__ == "BrokenProcessPool":
        return c.Outcome(c.BROKEN_POOL, error=_one_line(exc), where=where)
    if ("pickle" in texts.lower() or "Can't get local object" in texts) and remote is None:
        return c.Outcome(c.UNPICKLABLE, error=_one_line(exc), where=where)
    if remote is not None:
        return c.Outcome(c.WORKER_ERROR, error=_one_line(exc), where=_where_in_text(str(remote), target_dir))
    if isinstance(exc, NotImplementedError):
        return c.Outcome(c.NOT_IMPLEMENTED, error=_one_line(exc), where=where)
    return c.Outcome(c.ERROR, error=_one_line(exc), where=where)


def classify(exc: BaseException, target_dir: str):
    """The outcome of a call that raised ``exc``, for grader-owned helpers that catch it themselves."""
    return _classify(exc, target_dir)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _where(exc: BaseException, target_dir: str) -> str:
    import traceback

    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{os.path.basename(exc.filename)}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _inside(f.filename, target_dir)]
    if not frames:
        return ""
    last = frames[-1]
    return f"{os.path.basename(last.filename)}, line {last.lineno}"


def _where_in_text(text: str, target_dir: str) -> str:
    import re

    found = [
        (path, line)
        for path, line in re.findall(r'File "([^"]+)", line (\d+)', text)
        if _inside(path, target_dir)
    ]
    if not found:
        return ""
    path, line = found[-1]
    return f"{os.path.basename(path)}, line {line}"


def _inside(path: str, directory: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(directory)]) == os.path.realpath(
            directory
        )
    except ValueError:
        return False


def _leftovers() -> list[str]:
    import time

    import psutil

    from graders.processes import describe

    ours = {_forkserver_pid(), _resource_tracker_pid()} - {None}
    deadline = time.monotonic() + 0.5
    while True:
        alive = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in ours and _running(p)
        ]
        if not alive or time.monotonic() > deadline:
            return [f"{describe(p)} was still running after the function returned" for p in alive]
        time.sleep(0.02)


def _running(proc) -> bool:
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _forkserver_pid():
    try:
        from multiprocessing import forkserver

        return forkserver._forkserver._forkserver_pid
    except (ImportError, AttributeError):
        return None


def _resource_tracker_pid():
    try:
        from multiprocessing import resource_tracker

        return resource_tracker._resource_tracker._pid
    except (ImportError, AttributeError):
        return None


def _unclosed_pools(caught) -> list[str]:
    return [
        "a multiprocessing pool was left open: it was never closed or terminated (use `with Pool(...) as pool:`)"
        for warning in caught
        if issubclass(warning.category, ResourceWarning) and "pool" in str(warning.message).lower()
    ][:1]


if __name__ == "__main__":
    main(sys.argv)
