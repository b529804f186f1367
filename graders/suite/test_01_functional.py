"""Grader for 01_functional: results on the tutorial's five cities and on random city lists, inputs
left unchanged, an idempotent operation, and (scored apart) the use of map, filter and reduce.

The expected values come from the grader's own plain loops, not from the reference solution.
"""
from __future__ import annotations

import ast
import copy
import math
import random
from typing import Any, Callable

import pytest

from fixtures.cities import load_cities
from graders.calls import Call, Outcome
from graders.feedback import fail, mismatch, show, value_of
from graders.target import GradedTarget

MODULE = "cities"
CONTINENTS = ("eu", "pac", "asia", "af", "am")
RANDOM_LISTS = 25


def _expected_lower_names(cities):
    return [city["name"].lower() for city in cities]


def _expected_cities_above(cities, population):
    return [city for city in cities if city["population"] > population]


def _expected_continent_population(cities, continent):
    total = 0.0
    for city in cities:
        if city["continent"] == continent:
            total += city["population"]
    return total


def _expected_above_average(cities):
    if not cities:
        return []
    average = sum(city["population"] for city in cities) / len(cities)
    return [city["name"] for city in cities if city["population"] > average]


def _expected_average_by_continent(cities):
    groups: dict[str, list[float]] = {}
    for city in cities:
        groups.setdefault(city["continent"], []).append(city["population"])
    return {continent: sum(values) / len(values) for continent, values in groups.items()}


def _expected_clean_record(raw):
    return {
        "name": raw["name"].strip().title(),
        "population": float(raw["population"]),
        "continent": raw["continent"].strip().lower(),
    }


def _random_city(rng: random.Random) -> dict:
    syllables = ["ber", "lin", "auck", "land", "lon", "don", "shef", "field", "christ", "church", "wel", "ton", "os", "lo"]
    name = "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))
    name = rng.choice([str.capitalize, str.upper, str.lower, str.title])(name)
    return {"name": name, "population": round(rng.uniform(0.05, 30.0), 2), "continent": rng.choice(CONTINENTS)}


def _city_lists(target: GradedTarget) -> list[list[dict]]:
    rng = target.rng("cities")
    lists = [load_cities(), []]
    lists += [_random_list(rng) for _ in range(RANDOM_LISTS)]
    return lists


def _random_list(rng: random.Random) -> list[dict]:
    while True:
        cities = [_random_city(rng) for _ in range(rng.randint(1, 12))]
        mean = sum(city["population"] for city in cities) / len(cities)
        # A population equal to the mean (in decimal) is above it or not depending on how the mean's
        # float was summed: both answers are right, so such a list is never asked.
        if len(cities) == 1 or all(abs(city["population"] - mean) > 1e-6 for city in cities):
            return cities


def _raw_record(rng: random.Random) -> dict:
    city = _random_city(rng)
    pad = lambda text: " " * rng.randint(0, 3) + text + " " * rng.randint(0, 3)  # noqa: E731
    return {
        "name": pad(rng.choice([str.upper, str.lower])(city["name"])),
        "population": str(city["population"]),
        "continent": pad(city["continent"].upper()),
    }


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(_same(g, e) for g, e in zip(got, expected))
    return type(got) is type(expected) and got == expected


def _cases(target: GradedTarget, function: str) -> list[tuple[tuple, Any]]:
    """(arguments, expected result) pairs for one function, on the fixture and random inputs."""
    lists = _city_lists(target)
    rng = target.rng(function)
    if function == "lower_names":
        return [((cities,), _expected_lower_names(cities)) for cities in lists]
    if function == "cities_above":
        thresholds = [1.0, 5.0] + [round(rng.uniform(0, 20), 2) for _ in lists[2:]]
        return [((cities, t), _expected_cities_above(cities, t)) for cities, t in zip(lists, thresholds)]
    if function == "continent_population":
        continents = ["pac", "eu"] + [rng.choice(CONTINENTS) for _ in lists[2:]]
        return [((cities, c), _expected_continent_population(cities, c)) for cities, c in zip(lists, continents)]
    if function == "above_average":
        return [((cities,), _expected_above_average(cities)) for cities in lists]
    if function == "average_by_continent":
        return [((cities,), _expected_average_by_continent(cities)) for cities in lists]
    if function == "clean_record":
        raws = [_raw_record(rng) for _ in range(RANDOM_LISTS)]
        return [((raw,), _expected_clean_record(raw)) for raw in raws]
    raise KeyError(function)


def _describe(function: str, args: tuple) -> str:
    shown = []
    for arg in args:
        if isinstance(arg, list) and arg and isinstance(arg[0], dict):
            shown.append(f"<{len(arg)} cities: {', '.join(c['name'] for c in arg[:5])}{', ...' if len(arg) > 5 else ''}>")
        else:
            shown.append(show(arg))
    return f"{function}({', '.join(shown)})"


def _run(target: GradedTarget, function: str, argument_lists: list[tuple]) -> list[Outcome]:
    calls = [Call(function, args, label=_describe(function, args)) for args in argument_lists]
    return target.once(("run", function), lambda: target.run(MODULE, calls, keep_args=True).outcomes)


def check_results(target: GradedTarget, function: str, same: Callable[[Any, Any], bool] = _same) -> None:
    cases = _cases(target, function)
    outcomes = _run(target, function, [args for args, _ in cases])
    for (args, wanted), outcome in zip(cases, outcomes):
        call = _describe(function, args)
        got = value_of(outcome, call, MODULE)
        if not same(got, wanted):
            fail(mismatch(call, got, wanted))


@pytest.mark.points(1)
def test_lower_names(target):
    check_results(target, "lower_names")


@pytest.mark.points(1)
def test_cities_above(target):
    check_results(target, "cities_above")


@pytest.mark.points(1)
def test_continent_population(target):
    check_results(target, "continent_population")


@pytest.mark.points(1)
def test_above_average(target):
    check_results(target, "above_average")


@pytest.mark.points(1)
def test_average_by_continent(target):
    check_results(target, "average_by_continent")


@pytest.mark.points(1)
def test_clean_record(target):
    # Extra fields may be carried over; the three cleaned ones must be exactly right.
    def same(got, wanted):
        return isinstance(got, dict) and _same({k: got.get(k) for k in wanted}, wanted)

    check_results(target, "clean_record", same)


@pytest.mark.points(1)
def test_mark_visited(target):
    rng = target.rng("visited")
    cities = [_random_city(rng) for _ in range(5)] + [{**_random_city(rng), "visited": True}]
    calls = [Call("graders.reference:apply_twice", ("mark_visited", city), label=f"mark_visited({show(city)})") for city in cities]
    outcomes = target.run(MODULE, calls).outcomes
    for city, call, outcome in zip(cities, calls, outcomes):
        once, twice = value_of(outcome, call.describe(), MODULE)
        wanted = {**city, "visited": True}
        if not _same(once, wanted):
            fail(mismatch(call.describe(), once, wanted))
        if not _same(twice, once):
            fail(
                f"not idempotent: mark_visited(mark_visited(city)) gave {show(twice)}, but mark_visited(city) "
                f"gave {show(once)}; applying it again must change nothing (close the door, don't toggle it)"
            )


@pytest.mark.points(1)
def test_inputs_unchanged(target):
    functions = ["lower_names", "cities_above", "continent_population", "above_average", "average_by_continent", "clean_record"]
    for function in functions:
        cases = _cases(target, function)
        before = [copy.deepcopy(args) for args, _ in cases]
        for args, outcome in zip(before, _run(target, function, [args for args, _ in cases])):
            call = _describe(function, args)
            value_of(outcome, call, MODULE)
            if outcome.args_after != args:
                fail(
                    f"{call} changed its input: the arguments were {show(args)} before the call and "
                    f"{show(outcome.args_after)} after it; a pure function returns new values instead"
                )


# Which tools each function must call, and whether it may use for/while statements.
REQUIRED_TOOLS = {
    "lower_names": {"map"},
    "cities_above": {"filter"},
    "continent_population": {"filter", "map", "reduce"},
    "above_average": {"reduce"},
    "average_by_continent": {"reduce"},
}


@pytest.mark.points(2)
def test_uses_functional_tools(target):
    path, source = target.source(MODULE)
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        fail(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}")
    defined = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    problems = []
    for function, tools in REQUIRED_TOOLS.items():
        node = defined.get(function)
        if node is None:
            problems.append(f"{function} is not defined")
            continue
        body = ast.Module(body=node.body, type_ignores=[])
        if _only_raises_not_implemented(node):
            problems.append(f"{function} is not written yet")
            continue
        called = {_called_name(n) for n in ast.walk(body) if isinstance(n, ast.Call)}
        missing = sorted(tools - called)
        loops = [n for n in ast.walk(body) if isinstance(n, (ast.For, ast.While, ast.AsyncFor))]
        if missing:
            problems.append(f"{function} does not call {', '.join(t + '()' for t in missing)}")
        if loops:
            problems.append(f"{function} uses a {type(loops[0]).__name__.lower()} loop (line {loops[0].lineno})")
    if problems:
        fail(
            "the functional tools were not used everywhere this exercise asks for them: "
            + "; ".join(problems)
            + ". (Checked by reading the code: each function must call the tools named in its docstring, "
            "with no for or while statements; comprehensions are allowed.)"
        )


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _only_raises_not_implemented(node: ast.FunctionDef) -> bool:
    statements = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return (
        len(statements) == 1
        and isinstance(statements[0], ast.Raise)
        and "NotImplementedError" in ast.unparse(statements[0])
    )
