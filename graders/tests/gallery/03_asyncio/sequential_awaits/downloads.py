"""Gallery entry, appended to solutions/03_asyncio/downloads.py: Awaits each download before starting the next: async syntax, serial behaviour."""


async def download_all(urls, folder, limit=6):
    failures = {}
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        for url in urls:
            try:
                response = await client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                continue
            async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
                await file.write(response.content)
    return failures
