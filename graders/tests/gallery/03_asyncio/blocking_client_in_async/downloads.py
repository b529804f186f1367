"""Gallery entry, appended to solutions/03_asyncio/downloads.py: gather around coroutines that use the blocking httpx.Client: nothing waits together."""


async def download(client, url, folder, failures):
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        failures[url] = describe_failure(error)
        return
    async with aiofiles.open(Path(folder, image_name(url)), "wb") as file:
        await file.write(response.content)


async def download_all(urls, folder, limit=6):
    failures = {}
    with httpx.Client(timeout=TIMEOUT_S) as client:
        await asyncio.gather(*(download(client, url, folder, failures) for url in urls))
    return failures
