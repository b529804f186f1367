"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    words = []
    for seed in seeds:
        with Pool(processes) as pool:
            words.append(pool.apply(build_word, (seed, length)))
    return words
