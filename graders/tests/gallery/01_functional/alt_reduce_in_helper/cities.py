"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""
# A correct alternative: reduce is called in small module-level helpers that the functions call.
import functools


def _add(total, value):
    return total + value


def _sum(values):
    return functools.reduce(_add, values, 0.0)


def _populations(cities):
    return map(lambda city: city["population"], cities)


def _mean(cities):
    return _sum(_populations(cities)) / len(cities)


def continent_population(cities, continent):
    return _sum(_populations(filter(lambda city: city["continent"] == continent, cities)))


def above_average(cities):
    if not cities:
        return []
    average = _mean(cities)
    return list(map(lambda city: city["name"], filter(lambda city: city["population"] > average, cities)))


def _group(groups, city):
    total, count = groups.get(city["continent"], (0.0, 0))
    return {**groups, city["continent"]: (total + city["population"], count + 1)}


def _grouped(cities):
    return functools.reduce(_group, cities, {})


def average_by_continent(cities):
    return {continent: total / count for continent, (total, count) in _grouped(cities).items()}
