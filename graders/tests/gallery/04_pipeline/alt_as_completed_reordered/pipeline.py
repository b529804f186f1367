"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Right in another way: asyncio.as_completed over tasks that return their URL's index, the summaries put back in the order of urls (forkserver)."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    summaries = {}
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(index, url):
                response = await client.get(url)
                response.raise_for_status()
                try:
                    return index, await loop.run_in_executor(pool, process_archive, response.content)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

            tasks = [asyncio.ensure_future(download_and_process(i, url)) for i, url in enumerate(urls)]
            try:
                for finished in asyncio.as_completed(tasks):
                    index, summary = await finished
                    summaries[index] = summary
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    return pd.concat([summaries[index] for index in range(len(urls))])
