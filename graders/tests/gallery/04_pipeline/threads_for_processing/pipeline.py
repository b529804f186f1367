"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: A thread pool for the CPU-bound processing: the GIL lets one thread compute at a time."""
from concurrent.futures import ThreadPoolExecutor


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                try:
                    return await loop.run_in_executor(pool, process_archive, response.content)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)}: {error}") from error

            return pd.concat(await asyncio.gather(*(download_and_process(url) for url in urls)))
