"""Functional programming warm-up: map, filter and reduce over a small table of cities.

Each city is a record (a dict): {"name": "Berlin", "population": 3.7, "continent": "eu"},
population in millions. Try it on the five cities of the tutorial:

    >>> from fixtures.cities import load_cities
    >>> lower_names(load_cities())
    ['berlin', 'auckland', 'london', 'sheffield', 'christchurch']

Every function here is pure: it returns new values and never changes its arguments.
A list of cities may be empty, and two cities may have the same name or the same population.
"""
from functools import reduce


def lower_names(cities):
    """The city names in lower case, in order, built with map(): one name per city, repeated names included."""
    # TODO: map each city to its lower-cased name.
    raise NotImplementedError


def cities_above(cities, population):
    """The cities (the records themselves, in order) with more than `population` millions, built with filter().

    A city with exactly `population` millions is not kept. The records are returned as they are, every field included.
    """
    # TODO: keep the cities whose population is above the threshold.
    raise NotImplementedError


def continent_population(cities, continent):
    """Total population of one continent's cities (0.0 when it has none), with filter, map and reduce."""
    # TODO: filter by continent, map to populations, reduce to a sum.
    raise NotImplementedError


def above_average(cities):
    """Names of the cities whose population is above the average of all cities (average with reduce), in order.

    A city exactly at the average is not above it, so a single city never is. No cities give [].
    """
    # TODO: compute the average with reduce, then filter the cities above it.
    raise NotImplementedError


def average_by_continent(cities):
    """Average population per continent, {continent: average}, grouped with reduce.

    One key per continent that has cities, no other; no cities give {}.
    """
    # TODO: reduce the cities into per-continent (total, count), then turn those into averages.
    raise NotImplementedError


def clean_record(raw):
    """A cleaned copy of a raw record: name stripped and title-cased, population a float, continent stripped and lower-cased.

    Title case as str.title() gives it: each word of the name starts with a capital. Any other fields of the
    record are copied as they are. A pipeline step returns a new record; the raw one stays exactly as it was.
    >>> clean_record({"name": "  new york ", "population": "8.3", "continent": "AM"})
    {'name': 'New York', 'population': 8.3, 'continent': 'am'}
    """
    # TODO: build and return a new dict; do not change `raw`.
    raise NotImplementedError


def toggle_visited(city):
    """Not idempotent: calling it twice undoes the first call ("toggle the door")."""
    return {**city, "visited": not city.get("visited", False)}


def mark_visited(city):
    """Idempotent: a copy of the city with "visited" set to True, however often it is applied ("close the door").

    The copy keeps every other field; the city passed in is not changed.
    """
    # TODO: return a new record marked as visited; mark_visited(mark_visited(c)) == mark_visited(c).
    raise NotImplementedError
