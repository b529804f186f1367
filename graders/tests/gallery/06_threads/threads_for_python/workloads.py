def count_primes_all(limits, workers):
    # Threads for pure-Python work: they take turns on the GIL.
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(count_primes, limits))
