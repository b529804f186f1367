"""Gallery entry, appended to solutions/03_asyncio/warmup.py: Awaits each count in turn: the sum of the sleeps, not the longest."""


async def count_together(sleeps, log):
    return [await count(name, seconds, log) for name, seconds in sleeps.items()]
