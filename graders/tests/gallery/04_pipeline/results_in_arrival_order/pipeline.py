"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Summaries collected as the tasks finish (asyncio.as_completed), so the months come in the order the downloads happened to end."""


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

            summaries = []
            for finished in asyncio.as_completed([download_and_process(url) for url in urls]):
                summaries.append(await finished)
    return pd.concat(summaries)
