"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    with Pool(processes) as pool:
        return pool.map(lambda seed: build_word(seed, length), seeds)
