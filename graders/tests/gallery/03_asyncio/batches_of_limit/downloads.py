"""Gallery entry, appended to solutions/03_asyncio/downloads.py: gathers the URLs in batches of `limit`: each batch waits for its slowest image."""


async def download_all(urls, folder, limit=6):
    failures = {}

    async def download(client, url):
        try:
            response = await client.get(url)
            response.raise_for_status()
        except httpx.HTTPError as error:
            failures[url] = describe_failure(error)
            return
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        for start in range(0, len(urls), limit):
            await asyncio.gather(*(download(client, url) for url in urls[start:start + limit]))
    return failures
