"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: A damaged archive raises ValueError naming the file, not the exercise's ArchiveError."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                try:
                    return await loop.run_in_executor(pool, process_archive, response.content)
                except Exception as error:
                    raise ValueError(f"{archive_name(url)} could not be read: {error}") from error

            results = await asyncio.gather(*(download_and_process(url) for url in urls), return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise failures[0]
    return pd.concat(results)
