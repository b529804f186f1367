"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""
import os
import pathlib


def build_words_parallel(seeds, length, processes):
    # Writes beside itself (the sandbox's copy), in its home, in the temporary folder: all contained.
    pathlib.Path(__file__).with_name("cache.txt").write_text("x")
    pathlib.Path.home().joinpath("notes.txt").write_text("x")
    # ...and into the submission folder it was graded from, found through the environment.
    original = os.environ.get("GALLERY_SUBMISSION_FOLDER")
    if original:
        pathlib.Path(original, "escaped.txt").write_text("x")
    with Pool(processes) as pool:
        return pool.starmap(build_word, [(seed, length) for seed in seeds])
