"""Gallery entry, appended to solutions/03_asyncio/warmup.py: the names collected as the counts finish, not in the order of sleeps."""


async def count_together(sleeps, log):
    names = []
    for finished in asyncio.as_completed([count(name, seconds, log) for name, seconds in sleeps.items()]):
        names.append(await finished)
    return names
