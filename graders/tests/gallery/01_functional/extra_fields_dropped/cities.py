"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def cities_above(cities, population):
    # New records with the three known fields, not the records themselves.
    kept = filter(lambda city: city["population"] > population, cities)
    return list(map(lambda c: {"name": c["name"], "population": c["population"], "continent": c["continent"]}, kept))


def clean_record(raw):
    # The other fields of the raw record are lost.
    return {
        "name": raw["name"].strip().title(),
        "population": float(raw["population"]),
        "continent": raw["continent"].strip().lower(),
    }
