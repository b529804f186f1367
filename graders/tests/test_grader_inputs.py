"""The graders' inputs reach the edges their docstrings name on every seed, and never ask a question
with two right answers."""
from __future__ import annotations

import ast
import math
import statistics
import string
import textwrap
from fractions import Fraction
from functools import reduce

import numpy
import pytest

from graders.suite import test_01_functional as ex01

SEEDS = range(20)
FUNCTIONS = ("lower_names", "cities_above", "continent_population", "above_average", "average_by_continent", "clean_record", "mark_visited")


# ---------------------------------------------------------------- 01: means that any honest code computes


def _means(populations: list[float]) -> dict[str, float]:
    """The average as learners compute it, in floats."""
    n = len(populations)
    incremental = reduce(lambda acc, p: (acc[0] + 1, acc[1] + (p - acc[1]) / (acc[0] + 1)), populations, (0, 0.0))[1]
    weighted = reduce(lambda acc, p: (acc[0] + 1, acc[1] * acc[0] / (acc[0] + 1) + p / (acc[0] + 1)), populations, (0, 0.0))[1]
    return {
        "sum/len": sum(populations) / n,
        "reversed sum/len": sum(reversed(populations)) / n,
        "sorted sum/len": sum(sorted(populations)) / n,
        "sum of p/len": sum(p / n for p in populations),
        "incremental": incremental,
        "weighted incremental": weighted,
        "fsum/len": math.fsum(populations) / n,
        "statistics.mean": statistics.mean(populations),
        "statistics.fmean": statistics.fmean(populations),
        "numpy.mean": float(numpy.mean(populations)),
    }


def _above(cities, mean):
    return [city["name"] for city in cities if city["population"] > mean]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_way_of_averaging_gives_the_expected_names(seed):
    # A tie decided by how the mean's float was summed would have two right answers (found by the
    # benchmark of 2026-11-22): every list is either exact under every formula or far from a tie.
    for (cities,), expected in ex01.cases(seed, "above_average"):
        if not cities:
            assert expected == []
            continue
        for formula, mean in _means([city["population"] for city in cities]).items():
            assert _above(cities, mean) == expected, (formula, cities)


def test_tie_lists_are_exact_under_every_formula():
    rng = ex01._rng(0, "ties")
    for _ in range(2_000):
        cities = ex01._tie_list(rng)
        exact = ex01._exact_mean(cities)
        assert any(Fraction(city["population"]) == exact for city in cities)
        for formula, mean in _means([city["population"] for city in cities]).items():
            assert Fraction(mean) == exact, (formula, cities)


def test_random_lists_have_no_near_tie():
    rng = ex01._rng(1, "cities")
    for _ in range(5_000):
        cities = ex01._random_list(rng)
        assert ex01._no_near_tie(cities)
        assert ex01._expected_above_average(list(reversed(cities))) == list(reversed(ex01._expected_above_average(cities)))


# ---------------------------------------------------------------- 01: a wrong rule fails on every seed


def _fails_somewhere(function, seed, wrong) -> bool:
    return any(not ex01._same(wrong(*args), expected) for args, expected in ex01.cases(seed, function))


def _clean(raw, name=lambda n: n.strip().title(), continent=lambda c: c.strip().lower(), keep=True):
    record = dict(raw) if keep else {}
    record.update(name=name(raw["name"]), population=float(raw["population"]), continent=continent(raw["continent"]))
    return record


WRONG_RULES = {
    "cities_above >=": ("cities_above", lambda cities, p: [c for c in cities if c["population"] >= p]),
    "cities_above rebuilt records": (
        "cities_above",
        lambda cities, p: [{k: c[k] for k in ("name", "population", "continent")} for c in cities if c["population"] > p],
    ),
    "above_average >=": (
        "above_average",
        lambda cities: [c["name"] for c in cities if cities and c["population"] >= sum(x["population"] for x in cities) / len(cities)],
    ),
    "lower_names without repeats": ("lower_names", lambda cities: list(dict.fromkeys(c["name"].lower() for c in cities))),
    "continent_population of the first city when absent": (
        "continent_population",
        lambda cities, continent: sum(c["population"] for c in cities if c["continent"] == continent) or (cities[0]["population"] if cities else 0.0),
    ),
    "average_by_continent with every continent a key": (
        "average_by_continent",
        lambda cities: {
            k: (sum(c["population"] for c in cities if c["continent"] == k) / n if (n := sum(c["continent"] == k for c in cities)) else 0.0)
            for k in ex01.CONTINENTS
        },
    ),
    "clean_record capitalize": ("clean_record", lambda raw: _clean(raw, name=lambda n: n.strip().capitalize())),
    "clean_record continent not stripped": ("clean_record", lambda raw: _clean(raw, continent=str.lower)),
    "clean_record other fields dropped": ("clean_record", lambda raw: _clean(raw, keep=False)),
    "mark_visited toggles": ("mark_visited", lambda city: {**city, "visited": not city.get("visited", False)}),
}


@pytest.mark.parametrize("rule", sorted(WRONG_RULES))
def test_a_wrong_rule_fails_on_every_seed(rule):
    function, wrong = WRONG_RULES[rule]
    assert all(_fails_somewhere(function, seed, wrong) for seed in SEEDS), rule


RIGHT_RULES = {
    "clean_record with string.capwords": ("clean_record", lambda raw: _clean(raw, name=string.capwords)),
    "clean_record word by word": (
        "clean_record",
        lambda raw: _clean(raw, name=lambda n: " ".join(w.capitalize() for w in n.split())),
    ),
    "above_average with statistics.mean": (
        "above_average",
        lambda cities: _above(cities, statistics.mean(c["population"] for c in cities)) if cities else [],
    ),
}


@pytest.mark.parametrize("rule", sorted(RIGHT_RULES))
def test_a_right_alternative_passes_on_every_seed(rule):
    function, right = RIGHT_RULES[rule]
    assert not any(_fails_somewhere(function, seed, right) for seed in SEEDS), rule


@pytest.mark.parametrize("seed", SEEDS)
def test_every_seed_asks_the_edges(seed):
    lists = [args[0] for args, _ in ex01.cases(seed, "lower_names")]
    assert [] in lists
    assert any(len(cities) == 1 for cities in lists)
    assert any(len({c["name"] for c in cities}) < len(cities) for cities in lists)
    assert any(" " in c["name"] for cities in lists for c in cities)
    assert any(set(c) > {"name", "population", "continent"} for cities in lists for c in cities)
    assert any(cities and len({c["population"] for c in cities}) == 1 and len(cities) > 1 for cities in lists)
    above = ex01.cases(seed, "cities_above")
    assert any(any(c["population"] == t for c in cities) for (cities, t), _ in above)
    continents = ex01.cases(seed, "continent_population")
    assert any(cities and expected == 0.0 for (cities, _), expected in continents)
    raws = [args[0] for args, _ in ex01.cases(seed, "clean_record")]
    assert sum(" " in raw["name"].strip() for raw in raws) >= 2
    assert all("  " not in raw["name"].strip() and "'" not in raw["name"] and "-" not in raw["name"] for raw in raws)
    visits = [args[0] for args, _ in ex01.cases(seed, "mark_visited")]
    assert {city.get("visited") for city in visits} >= {None, False, True}


def test_inputs_do_not_depend_on_anything_but_the_seed():
    for function in FUNCTIONS:
        assert ex01.cases(7, function) == ex01.cases(7, function)
        assert ex01.cases(7, function) != ex01.cases(8, function)


# ---------------------------------------------------------------- 01: reading the code for the tools


def _problems(source: str) -> list[str]:
    return ex01.tool_problems(ast.parse(textwrap.dedent(source)))[0]


CORRECT = '''
    from functools import reduce
    def lower_names(cities):
        return list(map(lambda c: c["name"].lower(), cities))
    def cities_above(cities, population):
        return list(filter(lambda c: c["population"] > population, cities))
    def continent_population(cities, continent):
        return reduce(lambda t, p: t + p, map(lambda c: c["population"], filter(lambda c: c["continent"] == continent, cities)), 0.0)
    def above_average(cities):
        average = reduce(lambda t, c: t + c["population"], cities, 0.0) / len(cities)
        return [c["name"] for c in cities if c["population"] > average]
    def average_by_continent(cities):
        return reduce(lambda g, c: {**g, c["continent"]: 0}, cities, {})
'''


def test_the_tools_check_accepts_comprehensions_beside_the_tools():
    assert _problems(CORRECT) == []


def test_reduce_through_helpers_counts_transitively_and_cycles_end():
    source = CORRECT.replace(
        'average = reduce(lambda t, c: t + c["population"], cities, 0.0) / len(cities)',
        "average = _mean(cities)",
    ) + '''
    def _mean(cities):
        return _total(cities, 0) / len(cities)
    def _total(cities, depth):
        # Mutually recursive with _mean through a name: the walk must end.
        _mean if depth > 10 else None
        return reduce(lambda t, c: t + c["population"], cities, 0.0)
    '''
    assert _problems(source) == []


def test_reduce_under_another_name_and_lambda_helpers_count():
    source = CORRECT.replace("from functools import reduce", "from functools import reduce as fold\n    import functools")
    source = source.replace("return reduce(lambda t, p", "return fold(lambda t, p")
    source = source.replace('average = reduce(lambda t, c: t + c["population"], cities, 0.0)', "average = _sum(cities)")
    source = source.replace("return reduce(lambda g, c", "return functools.reduce(lambda g, c")
    source += '''
    _sum = lambda cities: fold(lambda t, c: t + c["population"], cities, 0.0)
    '''
    assert _problems(source) == []


def test_a_loop_in_a_helper_is_a_loop_of_the_function():
    source = CORRECT.replace('return list(map(lambda c: c["name"].lower(), cities))', "return list(map(str.lower, _names(cities)))")
    source += '''
    def _names(cities):
        found = []
        for city in cities:
            found.append(city["name"])
        return found
    '''
    problems = _problems(source)
    assert len(problems) == 1 and problems[0].startswith("lower_names uses a for loop") and "in its helper _names" in problems[0]


def test_a_graded_function_used_as_a_helper_answers_for_its_own_loop_only():
    source = CORRECT.replace(
        'return list(map(lambda c: c["name"].lower(), cities))',
        'names = []\n        for c in cities:\n            names.append(c["name"].lower())\n        return list(map(str, names))',
    ).replace('return [c["name"] for c in cities if c["population"] > average]', "return lower_names([c for c in cities if c['population'] > average])")
    problems = _problems(source)
    assert [p.split(" ")[0] for p in problems] == ["lower_names"], problems


def test_unwritten_and_missing_functions_are_named_with_their_own_cause():
    source = CORRECT.replace('return list(filter(lambda c: c["population"] > population, cities))', "raise NotImplementedError")
    source = source.replace("def average_by_continent(cities):", "def average_by_continents(cities):")
    problems, causes = ex01.tool_problems(ast.parse(textwrap.dedent(source)))
    assert problems == ["cities_above is not written yet", "average_by_continent is not defined"]
    assert causes == {"not_implemented", "missing_function"}


def _solution_module():
    import importlib.util

    from graders.tests.conftest import PROJECT

    spec = importlib.util.spec_from_file_location("cities_reference_01", PROJECT / "solutions" / "01_functional" / "cities.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("function", [f for f in FUNCTIONS])
def test_the_reference_solution_gives_every_expected_value_on_every_seed(function):
    import copy

    reference = getattr(_solution_module(), function)
    same = ex01._same_record if function == "clean_record" else ex01._same
    for seed in SEEDS:
        for args, expected in ex01.cases(seed, function):
            before = copy.deepcopy(args)
            assert same(reference(*args), expected), (seed, args)
            assert args == before, (seed, args)
