"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: A new httpx.AsyncClient for every download, instead of one client shared by the whole call."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:

        async def download_and_process(url):
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.get(url)
            response.raise_for_status()
            try:
                return await loop.run_in_executor(pool, process_archive, response.content)
            except Exception as error:
                raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

        results = await asyncio.gather(*(download_and_process(url) for url in urls), return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise failures[0]
    return pd.concat(results)
