"""Gallery entry, appended to solutions/03_asyncio/downloads.py: No error handling: the first failing URL aborts the whole call."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)

    async def download(client, url):
        async with semaphore:
            response = await client.get(url)
            response.raise_for_status()
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(download(client, url) for url in urls))
    return {}
