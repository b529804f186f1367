"""Gallery entry, appended to solutions/05_distributed/executors.py: results paired with items by position, but as_completed yields them in completion order."""


def collect(executor, function, items):
    futures = [executor.submit(function, item) for item in items]
    results, failures = {}, {}
    for item, future in zip(items, as_completed(futures)):
        try:
            results[item] = future.result()
        except Exception as error:
            failures[item] = describe_failure(error)
    return results, failures
