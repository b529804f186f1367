"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    # One word per distinct seed, in a dict: a seed given twice gets one word.
    with Pool(processes) as pool:
        words = dict(zip(seeds, pool.starmap(build_word, [(seed, length) for seed in seeds])))
    return list(words.values())
