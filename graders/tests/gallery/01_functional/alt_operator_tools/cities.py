"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""
# A correct alternative: operator.itemgetter and operator.add instead of lambdas, string.capwords,
# dict(city, visited=True).
import operator
import string
from functools import reduce as fold
from operator import itemgetter


def lower_names(cities):
    return list(map(str.lower, map(itemgetter("name"), cities)))


def cities_above(cities, population):
    return list(filter(lambda city: operator.gt(city["population"], population), cities))


def continent_population(cities, continent):
    populations = map(itemgetter("population"), filter(lambda c: itemgetter("continent")(c) == continent, cities))
    return fold(operator.add, populations, 0.0)


def above_average(cities):
    if not cities:
        return []
    count, total = fold(lambda acc, p: (acc[0] + 1, acc[1] + p), map(itemgetter("population"), cities), (0, 0.0))
    return list(map(itemgetter("name"), filter(lambda c: c["population"] > total / count, cities)))


def clean_record(raw):
    cleaned = dict(raw)
    cleaned.update(
        name=string.capwords(raw["name"]),
        population=float(raw["population"]),
        continent=raw["continent"].strip().lower(),
    )
    return cleaned


def mark_visited(city):
    return dict(city, visited=True)
