"""Gallery entry, appended to solutions/05_distributed/executors.py: future.result() without try/except: the first failing task loses every other result."""


def collect(executor, function, items):
    futures = {executor.submit(function, item): item for item in items}
    results = {}
    for future in as_completed(futures):
        results[futures[future]] = future.result()
    return results, {}
