"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: The URLs are handled in batches of `processes`: each batch's downloads overlap, but the next batch starts only when the whole batch is done."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    summaries = []
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                try:
                    return await loop.run_in_executor(pool, process_archive, response.content)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

            for start in range(0, len(urls), processes):
                batch = urls[start : start + processes]
                summaries += await asyncio.gather(*(download_and_process(url) for url in batch))
    return pd.concat(summaries)
