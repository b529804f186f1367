"""Gallery entry, appended to solutions/03_asyncio/downloads.py: the client keeps httpx's default timeout (5 s) instead of the exercise's TIMEOUT_S."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)
    failures = {}

    async def download(client, url):
        async with semaphore:
            try:
                response = await client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                return
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(download(client, url) for url in urls))
    return failures
