"""Gallery entry, appended to solutions/03_asyncio/downloads.py: a correct alternative: gather with return_exceptions, the file written while the Semaphore is still held."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)

    async def download(client, url):
        async with semaphore:
            response = await client.get(url)
            response.raise_for_status()
            async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
                await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        results = await asyncio.gather(*(download(client, url) for url in urls), return_exceptions=True)
    return {
        url: describe_failure(result)
        for url, result in zip(urls, results)
        if isinstance(result, httpx.HTTPError)
    }
