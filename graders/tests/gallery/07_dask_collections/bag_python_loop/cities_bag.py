"""Gallery entry, appended to solutions/07_dask_collections/cities_bag.py: the bag computed, then a Python loop over its items."""


def continent_population(cities, continent):
    total = 0.0
    for city in db.from_sequence(cities).compute():
        if city["continent"] == continent:
            total += city["population"]
    return total


def average_by_continent(cities):
    groups = {}
    for city in db.from_sequence(cities).compute():
        total, count = groups.get(city["continent"], (0.0, 0))
        groups[city["continent"]] = (total + city["population"], count + 1)
    return {continent: total / count for continent, (total, count) in groups.items()}
