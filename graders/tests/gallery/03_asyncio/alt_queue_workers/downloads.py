"""Gallery entry, appended to solutions/03_asyncio/downloads.py: a correct alternative: `limit` workers, each taking the next URL from an asyncio.Queue."""


async def download_all(urls, folder, limit=6):
    queue = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    failures = {}

    async def worker(client):
        while True:
            try:
                url = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                response = await client.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                failures[url] = describe_failure(error)
                continue
            async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
                await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(worker(client) for _ in range(limit)))
    return failures
