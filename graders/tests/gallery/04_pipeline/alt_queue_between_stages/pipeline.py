"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Right in another way: download tasks put each archive on an asyncio.Queue as it arrives; a dispatcher hands what it takes from the queue to the pool and keeps each summary in its URL's place."""


async def run_pipeline(urls, processes):
    loop = asyncio.get_running_loop()
    arrived = asyncio.Queue()
    summaries = [None] * len(urls)
    with ProcessPoolExecutor(processes) as pool:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

            async def download(index, url):
                response = await client.get(url)
                response.raise_for_status()
                await arrived.put((index, response.content))

            async def process(index, data):
                try:
                    summaries[index] = await loop.run_in_executor(pool, process_archive, data)
                except Exception as error:
                    raise ArchiveError(f"{archive_name(urls[index])} could not be read: {error}") from error

            async def dispatch():
                processing = []
                for _ in urls:
                    index, data = await arrived.get()
                    processing.append(asyncio.ensure_future(process(index, data)))
                await asyncio.gather(*processing)

            await asyncio.gather(dispatch(), *(download(i, url) for i, url in enumerate(urls)))
    return pd.concat(summaries)
