"""Gallery entry, appended to solutions/05_distributed/executors.py: failures reported as bare messages, without the input that failed."""


def collect(executor, function, items):
    futures = {executor.submit(function, item): item for item in items}
    results, failures = {}, []
    for future in as_completed(futures):
        try:
            results[futures[future]] = future.result()
        except Exception as error:
            failures.append(describe_failure(error))
    return results, failures
