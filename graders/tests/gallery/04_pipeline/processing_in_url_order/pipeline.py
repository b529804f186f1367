"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: The downloads overlap, but each archive goes to the pool in the order of the URLs: a slow first download keeps every other archive waiting."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            downloads = [asyncio.ensure_future(client.get(url)) for url in urls]
            processing = []
            for url, download in zip(urls, downloads):
                response = await download
                response.raise_for_status()
                processing.append(loop.run_in_executor(pool, process_archive, response.content))
            summaries = []
            for url, summary in zip(urls, processing):
                try:
                    summaries.append(await summary)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error
    return pd.concat(summaries)
