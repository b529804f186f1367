"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    return build_words_loop(seeds, length)
