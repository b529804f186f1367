"""Gallery entry, appended to solutions/03_asyncio/downloads.py: a correct alternative: asyncio.TaskGroup and a Semaphore, each task catching its own errors (gather on Python 3.10)."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)
    failures = {}

    async def download(client, url):
        try:
            async with semaphore:
                response = await client.get(url)
                response.raise_for_status()
        except httpx.HTTPError as error:
            failures[url] = describe_failure(error)
            return
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        if hasattr(asyncio, "TaskGroup"):
            async with asyncio.TaskGroup() as group:
                for url in urls:
                    group.create_task(download(client, url))
        else:
            await asyncio.gather(*(download(client, url) for url in urls))
    return failures
