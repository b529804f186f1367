"""Gallery entry, appended to solutions/03_asyncio/downloads.py: A polite pause before each request, with time.sleep: it freezes the event loop."""
import time


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)
    failures = {}

    async def download(client, url):
        async with semaphore:
            time.sleep(0.02)
            try:
                response = await client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                return
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(download(client, url) for url in urls))
    return failures
