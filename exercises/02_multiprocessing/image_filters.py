"""Part 2: nested loops over images and colour channels, flattened into parallel tasks.

Every (image, channel) pair is filtered independently: a 2-D convolution with a small kernel, then
the magnitude of an inverse FFT. The serial code loops over images, then channels; the parallel
version turns the two loops into one list of tasks.
"""
from functools import partial
from multiprocessing import Pool

import numpy as np

CHANNELS = 3


def make_images(count, size, seed):
    """`count` random RGB images, shape (count, size, size, 3)."""
    return np.random.default_rng(seed).random((count, size, size, CHANNELS))


def make_kernel(size, seed):
    """A random square convolution kernel whose weights sum to 1."""
    kernel = np.random.default_rng(seed).random((size, size))
    return kernel / kernel.sum()


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


def filter_images_loop(images, kernel):
    """The serial version: a list with, for each image, the list of its filtered channels."""
    filtered = []
    for image in images:
        channels = []
        for channel in range(CHANNELS):
            channels.append(filter_channel(image, channel, kernel))
        filtered.append(channels)
    return filtered


def filter_images_parallel(images, kernel, processes):
    """The same result as filter_images_loop, from a pool of `processes` workers.

    Each (image, channel) pair is one task: one call of filter_channel, made in a worker process.
    One pool per call, of exactly `processes` workers, closed before the function returns.
    """
    # TODO: flatten the two loops into a list of (image, channel) tasks, run them with Pool.starmap
    # (functools.partial can fix the kernel argument), then regroup the results per image.
    raise NotImplementedError
