from multiprocessing import Pool


def count_primes_all(limits, workers):
    # multiprocessing.Pool instead of a ProcessPoolExecutor.
    with Pool(workers) as pool:
        return pool.map(count_primes, limits)
