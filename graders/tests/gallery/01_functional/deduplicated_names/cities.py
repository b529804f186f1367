"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def lower_names(cities):
    # dict.fromkeys keeps the order but drops a second city of the same name.
    return list(dict.fromkeys(map(lambda city: city["name"].lower(), cities)))
