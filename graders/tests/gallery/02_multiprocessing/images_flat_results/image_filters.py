"""Gallery entry: appended to solutions/02_multiprocessing/image_filters.py, replacing what it redefines."""


def filter_images_parallel(images, kernel, processes):
    # The flat list of filtered channels, never regrouped per image.
    tasks = [(image, channel) for image in images for channel in range(CHANNELS)]
    with Pool(processes) as pool:
        return pool.starmap(partial(filter_channel, kernel=kernel), tasks)
