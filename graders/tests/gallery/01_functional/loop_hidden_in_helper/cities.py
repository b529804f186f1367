"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def _names(cities):
    names = []
    for city in cities:
        names.append(city["name"])
    return names


def lower_names(cities):
    # map() is called, but the real work is a for loop in a helper.
    return list(map(str.lower, _names(cities)))
