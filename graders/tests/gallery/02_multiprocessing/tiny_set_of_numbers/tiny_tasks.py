"""Gallery entry: appended to solutions/02_multiprocessing/tiny_tasks.py, replacing what it redefines."""


def total_steps_parallel(numbers, processes):
    # Each number once "is enough": but a number that appears twice counts twice in the loop's total.
    unique = sorted(set(numbers))
    chunksize = max(1, len(unique) // (processes * 4))
    with Pool(processes) as pool:
        return sum(pool.imap_unordered(collatz_steps, unique, chunksize=chunksize))
