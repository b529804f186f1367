"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""
import os
import pathlib

import graders


def build_words_parallel(seeds, length, processes):
    # A learner who rewrote the grader could pass every later check; touching the file stands in
    # for rewriting it, so the project's own copy is never damaged.
    os.utime(pathlib.Path(graders.__file__).with_name("exercises.toml"))
    with Pool(processes) as pool:
        return pool.starmap(build_word, [(seed, length) for seed in seeds])
