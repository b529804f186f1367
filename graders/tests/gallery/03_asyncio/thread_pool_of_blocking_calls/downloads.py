"""Gallery entry, appended to solutions/03_asyncio/downloads.py: Blocking downloads handed to the default thread pool: concurrent, but no asyncio I/O."""


def download_blocking(url, folder):
    response = httpx.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    Path(folder, image_name(url)).write_bytes(response.content)


async def download_all(urls, folder, limit=6):
    failures = {}

    async def download(url):
        try:
            await asyncio.to_thread(download_blocking, url, folder)
        except httpx.HTTPError as error:
            failures[url] = describe_failure(error)

    await asyncio.gather(*(download(url) for url in urls))
    return failures
