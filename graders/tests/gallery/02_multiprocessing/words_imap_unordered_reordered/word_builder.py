"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def numbered_word(task):
    index, seed, length = task
    return index, build_word(seed, length)


def build_words_parallel(seeds, length, processes):
    # Words in the order they finish, then put back in the order of the seeds.
    with Pool(processes) as pool:
        done = sorted(pool.imap_unordered(numbered_word, [(i, s, length) for i, s in enumerate(seeds)]))
    return [word for _, word in done]
