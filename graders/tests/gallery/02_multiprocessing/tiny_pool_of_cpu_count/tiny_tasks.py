"""Gallery entry: appended to solutions/02_multiprocessing/tiny_tasks.py, replacing what it redefines."""


def total_steps_parallel(numbers, processes):
    import os

    chunksize = max(1, len(numbers) // (processes * 4))
    with Pool(os.cpu_count()) as pool:
        return sum(pool.imap_unordered(collatz_steps, numbers, chunksize=chunksize))
