"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""
# A correct alternative: the average in two passes (a reduce for the total, then len), comprehensions
# where the exercise allows them, and a reduce that fills a fresh dict of its own.


def above_average(cities):
    if not cities:
        return []
    average = reduce(lambda total, city: total + city["population"], cities, 0) / len(cities)
    return [city["name"] for city in cities if city["population"] > average]


def average_by_continent(cities):
    def add(groups, city):
        groups.setdefault(city["continent"], []).append(city["population"])
        return groups

    groups = reduce(add, cities, {})
    return {continent: sum(values) / len(values) for continent, values in groups.items()}


def mark_visited(city):
    copy = city.copy()
    copy["visited"] = True
    return copy
