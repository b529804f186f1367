"""Part 2: exercise 01's cities warm-up, as a Dask bag.

A Dask Bag is a list of Python objects split into partitions. Its .map, .filter and .fold are the
map, filter and reduce of exercise 01, but they only build a graph: a task per partition and step,
then the tasks that combine the partitions' results. .compute() runs it on the cluster and brings
back the result alone: a fold's total, not the items it added up.

One difference from functools.reduce: a Dask fold skips the partitions that are empty, so when a
filter leaves no item at all in a bag of several partitions, its last step has nothing to combine
and raises, initial= or not. Fold a bag that keeps every item instead (map the ones you do not want
to 0.0), or use a reduction whose aggregate starts from 0.0.

Each city is a record {"name": "Berlin", "population": 3.7, "continent": "eu"} (millions). A list of
cities may be empty, and two cities may have the same name or the same population. The grader
connects a Client to a cluster of its own before it calls your functions; `python cities_bag.py`
runs them on the tutorial's five cities with a local cluster.
"""
import sys
from operator import add

import dask.bag as db


def names_above(cities, population):
    """The names of the cities with more than `population` millions, stripped and lower-cased, in order: filter, then map.

    A city with exactly `population` millions is not kept; repeated names are all kept.
    """
    # TODO: a bag of the cities (db.from_sequence), .filter the populous ones, .map each to its cleaned
    # name, and .compute() once.
    raise NotImplementedError


def continent_population(cities, continent):
    """Total population of one continent's cities, with map and fold: 0.0 when it has none, or there are no cities."""
    # TODO: map each city to its population if it is on the continent, else to 0.0, then fold with + from a
    # start of 0.0 (initial=0.0: a fold over no cities needs one), and compute once.
    raise NotImplementedError


def average_by_continent(cities):
    """Average population per continent, {continent: average}, folded on the cluster (foldby); {} for no cities.

    One key per continent that has cities, no other.
    """
    # TODO: foldby continent into (total, count) pairs (each partition folds its cities, then the
    # partitions' pairs are combined), compute once, then divide.
    raise NotImplementedError


def main():
    """The three functions on the tutorial's five cities, on a local cluster."""
    from distributed import Client, LocalCluster

    cities = [
        {"name": "Berlin", "population": 3.7, "continent": "eu"},
        {"name": "Auckland", "population": 1.7, "continent": "pac"},
        {"name": "London", "population": 8.9, "continent": "eu"},
        {"name": "Sheffield", "population": 0.5, "continent": "eu"},
        {"name": "Christchurch", "population": 0.38, "continent": "pac"},
    ]
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
        print(names_above(cities, 1.0))
        print(continent_population(cities, "pac"))
        print(average_by_continent(cities))


if __name__ == "__main__":
    sys.exit(main())
