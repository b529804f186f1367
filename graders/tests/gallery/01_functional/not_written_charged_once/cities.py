"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def average_by_continent(cities):
    # TODO: still the stub's body.
    raise NotImplementedError
