"""Gallery entry, appended to solutions/04_pipeline/pipeline.py: Downloads overlap, but each archive is processed in the event loop itself: no parallel processing."""


async def run_pipeline(urls, processes):
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:

        async def download_and_process(url):
            response = await client.get(url)
            response.raise_for_status()
            try:
                return process_archive(response.content)
            except Exception as error:
                raise ArchiveError(f"{archive_name(url)}: {error}") from error

        return pd.concat(await asyncio.gather(*(download_and_process(url) for url in urls)))
