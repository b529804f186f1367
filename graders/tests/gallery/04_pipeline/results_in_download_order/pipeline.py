"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Each summary takes the next free place as its download arrives, so the months come in the order the downloads happened to finish."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    places = []
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download_and_process(url):
                response = await client.get(url)
                response.raise_for_status()
                place = len(places)
                places.append(None)
                try:
                    places[place] = await loop.run_in_executor(pool, process_archive, response.content)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(url)} could not be read: {error}") from error

            await asyncio.gather(*(download_and_process(url) for url in urls))
    return pd.concat(places)
