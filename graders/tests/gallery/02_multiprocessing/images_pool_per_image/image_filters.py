"""Gallery entry: appended to solutions/02_multiprocessing/image_filters.py, replacing what it redefines."""


def filter_images_parallel(images, kernel, processes):
    # A new pool for every image: each image's three channels in parallel, the images one by one.
    filtered = []
    for image in images:
        with Pool(processes) as pool:
            filtered.append(pool.starmap(partial(filter_channel, kernel=kernel), [(image, c) for c in range(CHANNELS)]))
    return filtered
