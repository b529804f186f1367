"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""

from functools import reduce


def continent_population(cities, continent):
    on_continent = filter(lambda city: city["continent"] == continent, cities)
    return reduce(lambda total, population: total + population, map(lambda city: city["population"], on_continent))
