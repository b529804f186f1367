"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    # Each distinct seed built once; a seed given twice gets its word twice, in its places.
    distinct = list(dict.fromkeys(seeds))
    with Pool(processes) as pool:
        words = dict(zip(distinct, pool.starmap(build_word, [(seed, length) for seed in distinct])))
    return [words[seed] for seed in seeds]
