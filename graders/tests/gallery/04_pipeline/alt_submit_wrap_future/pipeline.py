"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Right in another way: pool.submit wrapped with asyncio.wrap_future, under spawn."""


async def run_pipeline(urls, processes):
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                try:
                    return await asyncio.wrap_future(pool.submit(process_archive, response.content))
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

            results = await asyncio.gather(*(download_and_process(url) for url in urls), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return pd.concat(results)
