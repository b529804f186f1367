"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    from multiprocessing.pool import ThreadPool

    with ThreadPool(processes) as pool:
        return pool.starmap(build_word, [(seed, length) for seed in seeds])
