"""Part 1: a compute-intensive task, from a loop to map() to a pool of processes.

Building a long random word is pure CPU work. Each word has its own seed, so the same seed always
gives the same word, in any process: results can be compared with the serial version.
"""
import random
import string
from multiprocessing import Pool

ALPHABET = string.ascii_lowercase


def build_word(seed, length):
    """A random word of `length` letters, the same for the same seed."""
    return "".join(random.Random(seed).choices(ALPHABET, k=length))


def build_words_loop(seeds, length):
    """The serial version: one word per seed, in order."""
    words = []
    for seed in seeds:
        words.append(build_word(seed, length))
    return words


def build_words_map(seeds, length):
    """The same words with map() instead of a loop (still serial)."""
    # TODO: map build_word over the seeds (map is lazy: turn its result into a list).
    ### BEGIN SOLUTION
    return list(map(build_word, seeds, [length] * len(seeds)))
    ### END SOLUTION


def build_words_parallel(seeds, length, processes):
    """The same words, built by a pool of `processes` worker processes; same order as the seeds.

    One word per seed, a seed given twice included. One pool per call, of exactly `processes`
    workers, and every word is built by calling build_word in those workers, none in the calling
    process. The pool is closed before the function returns.
    """
    # TODO: use a multiprocessing.Pool(processes) (with `with`, so it is closed) and Pool.starmap or Pool.map.
    ### BEGIN SOLUTION
    with Pool(processes) as pool:
        return pool.starmap(build_word, [(seed, length) for seed in seeds])
    ### END SOLUTION
