"""Gallery entry, appended to solutions/05_distributed/executors.py: a result that is falsy (0) is taken for a failure."""


def collect(executor, function, items):
    futures = {executor.submit(function, item): item for item in items}
    results, failures = {}, {}
    for future in as_completed(futures):
        item = futures[future]
        if future.exception() is None and future.result():
            results[item] = future.result()
        elif future.exception() is not None:
            failures[item] = describe_failure(future.exception())
    return results, failures
