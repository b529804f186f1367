"""Gallery entry: appended to solutions/02_multiprocessing/tiny_tasks.py, replacing what it redefines."""


def total_steps_parallel(numbers, processes):
    # that sums one chunk; the total must be the same as the loop's.
    size = max(1, len(numbers) // (processes * 4))
    chunks = [numbers[i : i + size] for i in range(0, len(numbers), size)]
    with Pool(processes) as pool:
        return sum(pool.map(total_steps_loop, chunks))
