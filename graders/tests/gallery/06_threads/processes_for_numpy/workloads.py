def largest_entry_all(seeds, size, workers):
    # Processes for numpy work that releases the GIL: every result is pickled back, for nothing.
    with ProcessPoolExecutor(workers) as executor:
        return list(executor.map(largest_entry, seeds, [size] * len(seeds)))
