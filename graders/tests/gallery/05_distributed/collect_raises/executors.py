"""Gallery entry, appended to solutions/05_distributed/executors.py: a collect that raises; only the collect checks may be charged."""


def collect(executor, function, items):
    raise RuntimeError("collect is broken")
