"""Gallery entry: appended to solutions/02_multiprocessing/image_filters.py, replacing what it redefines."""


def filter_images_parallel(images, kernel, processes):
    # The kernel travels in every task tuple, and the tasks go out two at a time.
    tasks = [(image, channel, kernel) for image in images for channel in range(CHANNELS)]
    with Pool(processes) as pool:
        results = pool.starmap(filter_channel, tasks, chunksize=2)
    return [results[i : i + CHANNELS] for i in range(0, len(results), CHANNELS)]
