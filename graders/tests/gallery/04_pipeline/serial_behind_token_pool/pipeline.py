"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Two calls of process_archive go to the pool for show, on the first archive to arrive, while the calling process does the real work itself."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    token = []
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                if not token:
                    token.extend(loop.run_in_executor(pool, process_archive, response.content) for _ in range(2))
                try:
                    return process_archive(response.content)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

            summaries = await asyncio.gather(*(download_and_process(url) for url in urls))
            await asyncio.gather(*token)
    return pd.concat(summaries)
