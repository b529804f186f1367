"""Gallery entry, appended to solutions/03_asyncio/downloads.py: a correct alternative: a Semaphore, results taken with asyncio.as_completed."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)

    async def fetch(client, url):
        async with semaphore:
            try:
                response = await client.get(url)
                response.raise_for_status()
                return url, response.content, None
            except httpx.HTTPError as error:
                return url, None, describe_failure(error)

    failures = {}
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        for next_done in asyncio.as_completed([fetch(client, url) for url in urls]):
            url, body, failure = await next_done
            if failure is not None:
                failures[url] = failure
                continue
            async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
                await file.write(body)
    return failures
