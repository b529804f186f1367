"""Gallery entry, appended to solutions/03_asyncio/downloads.py: a TaskGroup with no error handling: the first failing URL cancels the rest and the call raises an ExceptionGroup (on Python 3.10, without TaskGroup, gather raises the error itself)."""


async def download_all(urls, folder, limit=6):
    semaphore = asyncio.Semaphore(limit)

    async def download(client, url):
        async with semaphore:
            response = await client.get(url)
            response.raise_for_status()
        async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
            await file.write(response.content)

    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        if hasattr(asyncio, "TaskGroup"):
            async with asyncio.TaskGroup() as group:
                for url in urls:
                    group.create_task(download(client, url))
        else:
            await asyncio.gather(*(download(client, url) for url in urls))
    return {}
