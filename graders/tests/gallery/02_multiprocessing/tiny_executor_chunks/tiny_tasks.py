"""Gallery entry: appended to solutions/02_multiprocessing/tiny_tasks.py, replacing what it redefines."""


def total_steps_parallel(numbers, processes):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=processes) as executor:
        return sum(executor.map(collatz_steps, numbers, chunksize=max(1, len(numbers) // (processes * 4))))
