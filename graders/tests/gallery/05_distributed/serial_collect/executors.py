"""Gallery entry, appended to solutions/05_distributed/executors.py: each task's result awaited before the next is submitted."""


def collect(executor, function, items):
    results, failures = {}, {}
    for item in items:
        future = executor.submit(function, item)
        try:
            results[item] = future.result()
        except Exception as error:
            failures[item] = describe_failure(error)
    return results, failures
