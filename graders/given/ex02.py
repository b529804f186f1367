"""The grader's copies of the functions exercise 02 gives the learner.

Every expected value of 02 is computed with these, in the grading process, never with the learner's
module: a learner who "optimises" build_word, filter_channel or collatz_steps wrongly gets wrong
results, not full marks for agreeing with themselves.
"""
import random
import string

import numpy as np

STUB_FUNCTIONS = {
    "word_builder": ("build_word",),
    "image_filters": ("convolve", "filter_channel"),
    "tiny_tasks": ("collatz_steps",),
}

ALPHABET = string.ascii_lowercase
CHANNELS = 3


def build_word(seed, length):
    """A random word of `length` letters, the same for the same seed."""
    return "".join(random.Random(seed).choices(ALPHABET, k=length))


def convolve(channel, kernel):
    """2-D convolution ("valid" part only) of one channel with the kernel, in plain numpy."""
    kh, kw = kernel.shape
    height, width = channel.shape[0] - kh + 1, channel.shape[1] - kw + 1
    out = np.zeros((height, width))
    for dy in range(kh):
        for dx in range(kw):
            out += kernel[kh - 1 - dy, kw - 1 - dx] * channel[dy : dy + height, dx : dx + width]
    return out


def filter_channel(image, channel, kernel):
    """Filter one channel of one image: convolve, then take the magnitude of the inverse FFT."""
    return np.abs(np.fft.ifft2(convolve(image[:, :, channel], kernel)))


def collatz_steps(n):
    """How many steps the Collatz sequence takes from n down to 1."""
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps
