"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def lower_names(cities):
    return [city["name"].lower() for city in cities]


def continent_population(cities, continent):
    total = 0.0
    for city in cities:
        if city["continent"] == continent:
            total += city["population"]
    return total
