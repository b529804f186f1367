"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    # A pool that builds a token share of the words, while this process builds all the rest.
    with Pool(processes) as pool:
        head = pool.starmap(build_word, [(seed, length) for seed in seeds[:processes]])
    return head + [build_word(seed, length) for seed in seeds[processes:]]
