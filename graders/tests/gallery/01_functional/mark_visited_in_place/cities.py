"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def mark_visited(city):
    # Idempotent, but it closes the caller's door: the record passed in is changed.
    city["visited"] = True
    return city
