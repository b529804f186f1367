"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def above_average(cities):
    # No guard for an empty list: ZeroDivisionError. Only above_average may be charged for it.
    total = reduce(lambda acc, city: acc + city["population"], cities, 0.0)
    average = total / len(cities)
    return list(map(lambda city: city["name"], filter(lambda city: city["population"] > average, cities)))
