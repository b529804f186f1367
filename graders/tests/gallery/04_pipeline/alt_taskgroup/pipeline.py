"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Right in another way: an asyncio.TaskGroup (Python 3.11+) whose ExceptionGroup, holding the ArchiveError, is let through (before 3.11: gather)."""
import sys


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
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

            if sys.version_info < (3, 11):
                return pd.concat(await asyncio.gather(*(download_and_process(url) for url in urls)))
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(download_and_process(url)) for url in urls]
    return pd.concat([task.result() for task in tasks])
