"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    # Pool() sizes itself by the machine's cores, not by the `processes` asked for.
    with Pool() as pool:
        return pool.starmap(build_word, [(seed, length) for seed in seeds])
