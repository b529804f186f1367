"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Downloads everything first, then processes: no processing while the slow download is still arriving."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        responses = await asyncio.gather(*(client.get(url) for url in urls))
    with ProcessPoolExecutor(processes) as pool:
        summaries = await asyncio.gather(
            *(loop.run_in_executor(pool, process_archive, response.content) for response in responses)
        )
    return pd.concat(summaries)
