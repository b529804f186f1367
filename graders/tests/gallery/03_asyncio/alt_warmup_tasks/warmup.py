"""Gallery entry, appended to solutions/03_asyncio/warmup.py: a correct alternative: every task created first, then awaited in the order of sleeps."""


async def count_together(sleeps, log):
    tasks = [asyncio.create_task(count(name, seconds, log)) for name, seconds in sleeps.items()]
    return [await task for task in tasks]
