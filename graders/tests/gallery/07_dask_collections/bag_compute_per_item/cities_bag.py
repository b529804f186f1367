"""Gallery entry, appended to solutions/07_dask_collections/cities_bag.py: a one-city bag computed per city."""


def names_above(cities, population):
    names = []
    for city in cities:
        if city["population"] > population:
            names.append(db.from_sequence([city]).map(lambda c: c["name"].strip().lower()).compute()[0])
    return names
