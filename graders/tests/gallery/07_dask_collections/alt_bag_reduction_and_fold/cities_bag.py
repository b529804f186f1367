"""Gallery entry, appended to solutions/07_dask_collections/cities_bag.py: correct alternatives, a reduction and a fold into a dict."""


def continent_population(cities, continent):
    on_continent = db.from_sequence(cities).filter(lambda city: city["continent"] == continent)
    populations = on_continent.map(lambda city: city["population"])
    return populations.reduction(lambda part: sum(part, 0.0), lambda totals: sum(totals, 0.0)).compute()


def _add_city(groups, city):
    total, count = groups.get(city["continent"], (0.0, 0))
    return {**groups, city["continent"]: (total + city["population"], count + 1)}


def _merge(one, other):
    merged = dict(one)
    for continent, (total, count) in other.items():
        old_total, old_count = merged.get(continent, (0.0, 0))
        merged[continent] = (old_total + total, old_count + count)
    return merged


def average_by_continent(cities):
    groups = db.from_sequence(cities).fold(_add_city, _merge, initial={}).compute()
    return {continent: total / count for continent, (total, count) in groups.items()}
