"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Lets the pool's exception through: BadZipFile, without a word on which archive."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                return await loop.run_in_executor(pool, process_archive, response.content)

            results = await asyncio.gather(*(download_and_process(url) for url in urls), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return pd.concat(results)
