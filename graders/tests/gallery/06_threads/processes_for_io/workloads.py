def fetch_all(urls, workers):
    # Processes for downloads: it works, but every worker is an interpreter started only to wait.
    with ProcessPoolExecutor(workers) as executor:
        return list(executor.map(fetch, urls))
