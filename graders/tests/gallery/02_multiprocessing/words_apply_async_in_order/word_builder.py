"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    # Every task handed out first, the results collected afterwards, in the order of the seeds.
    with Pool(processes) as pool:
        pending = [pool.apply_async(build_word, (seed, length)) for seed in seeds]
        return [result.get() for result in pending]
