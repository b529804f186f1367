"""Gallery entry: appended to solutions/02_multiprocessing/image_filters.py, replacing what it redefines."""


def filter_images_parallel(images, kernel, processes):
    from concurrent.futures import ProcessPoolExecutor

    pairs = [(image, channel) for image in images for channel in range(CHANNELS)]
    with ProcessPoolExecutor(max_workers=processes) as executor:
        results = list(executor.map(filter_channel, [p[0] for p in pairs], [p[1] for p in pairs], [kernel] * len(pairs)))
    return [results[i : i + CHANNELS] for i in range(0, len(results), CHANNELS)]
