"""Gallery entry: appended to solutions/02_multiprocessing/tiny_tasks.py, replacing what it redefines."""


def total_steps_parallel(numbers, processes):
    # that sums one chunk; the total must be the same as the loop's.
    return total_steps_one_by_one(numbers, processes)
