"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def cities_above(cities, population):
    # ">=" where the docstring says "more than": a city exactly at the threshold is kept.
    return list(filter(lambda city: city["population"] >= population, cities))


def above_average(cities):
    if not cities:
        return []
    total = reduce(lambda acc, city: acc + city["population"], cities, 0.0)
    average = total / len(cities)
    return list(map(lambda city: city["name"], filter(lambda city: city["population"] >= average, cities)))
