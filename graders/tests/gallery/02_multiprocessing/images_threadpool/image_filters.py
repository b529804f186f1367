"""Gallery entry: appended to solutions/02_multiprocessing/image_filters.py, replacing what it redefines."""


def filter_images_parallel(images, kernel, processes):
    # (functools.partial can fix the kernel argument), then regroup the results per image.
    tasks = [(image, channel) for image in images for channel in range(CHANNELS)]
    from multiprocessing.pool import ThreadPool

    with ThreadPool(processes) as pool:
        results = pool.starmap(partial(filter_channel, kernel=kernel), tasks)
    return [results[i : i + CHANNELS] for i in range(0, len(results), CHANNELS)]
