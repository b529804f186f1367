"""Gallery entry, appended to solutions/03_asyncio/downloads.py: a new httpx.AsyncClient for every request instead of one shared client."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)
    failures = {}

    async def download(url):
        async with semaphore:
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                    response = await client.get(url)
                    response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                return
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    await asyncio.gather(*(download(url) for url in urls))
    return failures
