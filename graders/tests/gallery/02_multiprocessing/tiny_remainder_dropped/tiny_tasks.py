"""Gallery entry: appended to solutions/02_multiprocessing/tiny_tasks.py, replacing what it redefines."""


def chunk_total(chunk):
    return sum(map(collatz_steps, chunk))


def total_steps_parallel(numbers, processes):
    # One chunk per worker, of len // processes numbers: the last len % processes numbers are lost.
    size = len(numbers) // processes
    chunks = [numbers[i * size : (i + 1) * size] for i in range(processes)]
    with Pool(processes) as pool:
        return sum(pool.map(chunk_total, chunks))
