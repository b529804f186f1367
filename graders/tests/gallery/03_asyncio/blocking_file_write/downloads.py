"""Gallery entry, appended to solutions/03_asyncio/downloads.py: Writes each image with pathlib inside the coroutine: a blocking write on the event loop."""


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
        Path(folder, image_name(url)).write_bytes(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(download(client, url) for url in urls))
    return failures
