"""Gallery entry, appended to solutions/03_asyncio/downloads.py: Streams each body straight into its file: a dropped connection leaves half a file."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)
    failures = {}

    async def download(client, url):
        async with semaphore:
            try:
                async with client.stream("GET", url) as response:
                    response.raise_for_status()
                    async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
                        async for chunk in response.aiter_bytes():
                            await file.write(chunk)
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(download(client, url) for url in urls))
    return failures
