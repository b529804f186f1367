"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Each download is awaited before the next one starts; processing goes to the pool as they arrive."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            pending = []
            for url in urls:
                response = await client.get(url)
                response.raise_for_status()
                pending.append(loop.run_in_executor(pool, process_archive, response.content))
            return pd.concat(await asyncio.gather(*pending))
