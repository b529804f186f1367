"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    global _POOL
    # Kept for reuse between calls, and never closed.
    if _POOL is None:
        _POOL = Pool(processes)
    return _POOL.starmap(build_word, [(seed, length) for seed in seeds])


_POOL = None
