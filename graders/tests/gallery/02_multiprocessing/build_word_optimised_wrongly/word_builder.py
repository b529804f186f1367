"""Gallery entry: appended to solutions/02_multiprocessing/word_builder.py, replacing what it redefines."""


def build_word(seed, length):
    # "Faster": draw half the letters and say them twice. Not the word the exercise gives.
    half = random.Random(seed).choices(ALPHABET, k=(length + 1) // 2)
    return "".join(half + half)[:length]
