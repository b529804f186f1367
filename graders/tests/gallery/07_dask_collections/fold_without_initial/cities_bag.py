"""Gallery entry, appended to solutions/07_dask_collections/cities_bag.py: a fold with no start value."""


def continent_population(cities, continent):
    populations = db.from_sequence(cities).map(lambda city: city["population"] if city["continent"] == continent else 0.0)
    return populations.fold(add).compute()
