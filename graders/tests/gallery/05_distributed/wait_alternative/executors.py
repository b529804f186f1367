"""Gallery entry, appended to solutions/05_distributed/executors.py: a correct alternative, concurrent.futures.wait then each future in turn."""
from concurrent.futures import wait


def collect(executor, function, items):
    futures = [(item, executor.submit(function, item)) for item in items]
    wait([future for _, future in futures])
    results, failures = {}, {}
    for item, future in futures:
        error = future.exception()
        if error is None:
            results[item] = future.result()
        else:
            failures[item] = describe_failure(error)
    return results, failures
