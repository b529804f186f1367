"""Grader for 01_functional: results on the tutorial's five cities, on fixed edge cases and on seeded
random city lists, inputs left unchanged, an idempotent operation, and (scored apart) the use of map,
filter and reduce.

The expected values come from the grader's own plain loops, not from the reference solution. Every
input set mixes fixed edges (no cities, a city exactly at a threshold or at the average, names with
spaces, repeated names, records with extra fields) with random lists, so a wrong rule fails on every
seed. SPECIFICATION says which check and which inputs hold the learner to each sentence of the stub's
docstrings and of the README.
"""
from __future__ import annotations

import ast
import copy
import math
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import pytest

from fixtures.cities import load_cities
from graders.sandbox import calls as status
from graders.sandbox.calls import Call, Outcome
from graders.grading.feedback import fail, mismatch, outcome_problem, show, value_of
from graders.grading.specification import Requirement
from graders.grading.target import GradedTarget
from graders.harnesses.reference import apply_twice

MODULE = "cities"
CONTINENTS = ("eu", "pac", "asia", "af", "am")
RANDOM_LISTS = 20
RANDOM_RECORDS = 20

SPECIFICATION = (
    Requirement(
        source="cities.py",
        quote="Every function here is pure: it returns new values and never changes its arguments.",
        checks=("inputs_unchanged",),
        edges="every input of every results check, and mark_visited's records, deep-copied before the call and "
        "compared after it; each function judged on its own, a call that raised is not judged here",
    ),
    Requirement(
        source="cities.py",
        quote="A list of cities may be empty, and two cities may have the same name or the same population.",
        checks=("lower_names", "cities_above", "continent_population", "above_average", "average_by_continent"),
        edges="[] for every function; a list holding the same city twice and two cities of one name on two "
        "continents; lists whose populations are all equal",
    ),
    Requirement(
        source="cities.py",
        quote="lower_names(load_cities()) ['berlin', 'auckland', 'london', 'sheffield', 'christchurch']",
        checks=("lower_names",),
        edges="the tutorial's five cities are the first input of every results check",
    ),
    Requirement(
        source="cities.py:lower_names",
        quote="The city names in lower case, in order, built with map(): one name per city, repeated names included.",
        checks=("lower_names", "uses_functional_tools"),
        edges="names with inner spaces and mixed case ('SAN josé', 'New York'), a repeated name, extra fields, []",
    ),
    Requirement(
        source="cities.py:cities_above",
        quote="The cities (the records themselves, in order) with more than `population` millions, built with filter().",
        checks=("cities_above", "uses_functional_tools"),
        edges="the five cities at 1.0 and 5.0; random lists at random thresholds",
    ),
    Requirement(
        source="cities.py:cities_above",
        quote="A city with exactly `population` millions is not kept.",
        checks=("cities_above",),
        edges="the five cities at 3.7 (Berlin's population), and every other random list at the population of "
        "one of its own cities, so a >= fails on every seed",
    ),
    Requirement(
        source="cities.py:cities_above",
        quote="The records are returned as they are, every field included.",
        checks=("cities_above",),
        edges="records with extra fields (id, country, visited): rebuilt three-field records fail",
    ),
    Requirement(
        source="cities.py:continent_population",
        quote="Total population of one continent's cities (0.0 when it has none), with filter, map and reduce.",
        checks=("continent_population", "uses_functional_tools"),
        edges="'pac' and 'eu' of the five cities; 'af', which has none of them; [] with 'eu'; random lists with "
        "random continents, some absent",
    ),
    Requirement(
        source="cities.py:above_average",
        quote="Names of the cities whose population is above the average of all cities (average with reduce), in order.",
        checks=("above_average", "uses_functional_tools"),
        edges="the five cities; random lists with no population within 1e-6 of their mean",
    ),
    Requirement(
        source="cities.py:above_average",
        quote="A city exactly at the average is not above it, so a single city never is. No cities give [].",
        checks=("above_average",),
        edges="fixed and seeded random lists of 1 to 4 cities, populations multiples of 1.5, where one city "
        "equals the mean exactly under every way of computing it (sum/len, an incremental mean, statistics); "
        "all-equal lists; one-city lists; []",
    ),
    Requirement(
        source="cities.py:average_by_continent",
        quote="Average population per continent, {continent: average}, grouped with reduce.",
        checks=("average_by_continent", "uses_functional_tools"),
        edges="the five cities; random lists; all-equal lists",
    ),
    Requirement(
        source="cities.py:average_by_continent",
        quote="One key per continent that has cities, no other; no cities give {}.",
        checks=("average_by_continent",),
        edges="lists on one or two continents only (keys for absent continents fail); []",
    ),
    Requirement(
        source="cities.py:clean_record",
        quote="A cleaned copy of a raw record: name stripped and title-cased, population a float, continent "
        "stripped and lower-cased.",
        checks=("clean_record", "inputs_unchanged"),
        edges="the docstring's own example; names with an inner space, leading and trailing spaces and tabs, "
        "upper, lower and mixed case; continents padded and upper-cased; populations '12' (a float 12.0 is "
        "wanted, type checked) and '0.38'",
    ),
    Requirement(
        source="cities.py:clean_record",
        quote="Title case as str.title() gives it: each word of the name starts with a capital.",
        checks=("clean_record",),
        edges="every seed has names of two words ('  new york ', 'SAN FRANCISCO'): capitalize() fails; names "
        "hold no apostrophe, hyphen or double space, where title() and capwords() differ",
    ),
    Requirement(
        source="cities.py:clean_record",
        quote="Any other fields of the record are copied as they are.",
        checks=("clean_record",),
        edges="raw records with extra fields (id, country, a nested list of tags)",
    ),
    Requirement(
        source="cities.py:clean_record",
        quote="A pipeline step returns a new record; the raw one stays exactly as it was.",
        checks=("inputs_unchanged",),
        edges="every raw record of the clean_record check, compared with its deep copy after the call",
    ),
    Requirement(
        source="cities.py:clean_record",
        quote="""clean_record({"name": "  new york ", "population": "8.3", "continent": "AM"}) """
        """{'name': 'New York', 'population': 8.3, 'continent': 'am'}""",
        checks=("clean_record",),
        edges="this very record is the first input of the check",
    ),
    Requirement(
        source="cities.py:toggle_visited",
        quote='Not idempotent: calling it twice undoes the first call ("toggle the door").',
        checks=("mark_visited",),
        edges="given, not graded; the idempotence check applies mark_visited twice, so a mark_visited built on "
        "toggle_visited fails it (gallery: toggles_visited)",
    ),
    Requirement(
        source="cities.py:mark_visited",
        quote='Idempotent: a copy of the city with "visited" set to True, however often it is applied ("close the door").',
        checks=("mark_visited",),
        edges="cities never visited, with visited False, with visited True; applied once and twice",
    ),
    Requirement(
        source="cities.py:mark_visited",
        quote="The copy keeps every other field; the city passed in is not changed.",
        checks=("mark_visited", "inputs_unchanged"),
        edges="cities with extra fields; each city compared with its deep copy after the call",
    ),
    Requirement(
        source="README.md",
        quote='"More than" and "above" are strict: a city exactly at the threshold or exactly at the average is not kept.',
        checks=("cities_above", "above_average"),
        edges="see the docstrings of cities_above and above_average",
    ),
    Requirement(
        source="README.md",
        quote='clean_record strips the name and title-cases it ("  new york " becomes "New York"), makes the '
        "population a float, strips the continent and lower-cases it, and copies any other field as it is.",
        checks=("clean_record",),
        edges="see the docstring of clean_record",
    ),
    Requirement(
        source="README.md",
        quote="The grader checks each function on the five cities, on edge cases (no cities, a continent with no "
        "cities, a city exactly at the threshold or the average, names with spaces, repeated names, records with "
        "extra fields) and on random city lists.",
        checks=("lower_names", "cities_above", "continent_population", "above_average", "average_by_continent", "clean_record"),
        edges="the fixed edge lists come first in every seed, the random lists after them",
    ),
    Requirement(
        source="README.md",
        quote="It checks that no function changes its arguments (each function on its own: one that raises is "
        "judged by its own check only), that mark_visited is idempotent,",
        checks=("inputs_unchanged", "mark_visited"),
        edges="gallery: crash_charged_once, not_written_charged_once, mark_visited_in_place",
    ),
    Requirement(
        source="README.md",
        quote="(2 points of 10) that map, filter and reduce are really used, by reading your code: each of the "
        "five functions that name a tool must call it, itself or through a helper function of cities.py that it "
        "uses, and none of them, helpers included, may use a for or while statement; comprehensions are allowed.",
        checks=("uses_functional_tools",),
        edges="module-level helpers (functions and lambdas) followed transitively, cycles included; reduce "
        "imported under another name; gallery: loop_hidden_in_helper, alt_reduce_in_helper, alt_operator_tools",
    ),
    Requirement(
        source="cities.py",
        quote='Each city is a record (a dict): {"name": "Berlin", "population": 3.7, "continent": "eu"}, population in millions.',
        checks=("lower_names", "cities_above", "continent_population", "above_average", "average_by_continent", "mark_visited"),
        edges="every input city has these three fields, some have more (id, country, visited, tags)",
    ),
    Requirement(
        source="README.md",
        quote="| lower_names(cities) | the names in lower case, one per city | map |",
        checks=("lower_names", "uses_functional_tools"),
        edges="see the docstring of lower_names",
    ),
    Requirement(
        source="README.md",
        quote="| cities_above(cities, population) | the cities (the records themselves) with more than population millions | filter |",
        checks=("cities_above", "uses_functional_tools"),
        edges="see the docstring of cities_above",
    ),
    Requirement(
        source="README.md",
        quote="| continent_population(cities, continent) | one continent's total, 0.0 when it has no cities | filter, map, functools.reduce |",
        checks=("continent_population", "uses_functional_tools"),
        edges="see the docstring of continent_population",
    ),
    Requirement(
        source="README.md",
        quote="| above_average(cities) | names of the cities above the average, [] for no cities | reduce |",
        checks=("above_average", "uses_functional_tools"),
        edges="see the docstring of above_average",
    ),
    Requirement(
        source="README.md",
        quote="| average_by_continent(cities) | {continent: average}, {} for no cities | reduce |",
        checks=("average_by_continent", "uses_functional_tools"),
        edges="see the docstring of average_by_continent",
    ),
    Requirement(
        source="README.md",
        quote="| clean_record(raw) | a cleaned new record | (no mutation) |",
        checks=("clean_record", "inputs_unchanged"),
        edges="see the docstring of clean_record",
    ),
    Requirement(
        source="README.md",
        quote="| mark_visited(city) | a copy marked visited, idempotent | (close the door, don't toggle it) |",
        checks=("mark_visited", "inputs_unchanged"),
        edges="see the docstring of mark_visited",
    ),
)


# ---------------------------------------------------------------- the grader's own answers


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


def _exact_mean(cities) -> Fraction | None:
    if not cities:
        return None
    return sum(Fraction(city["population"]) for city in cities) / len(cities)


def _expected_above_average(cities):
    # Compared with the exact mean: the inputs are built so that no float mean sits on the other side
    # of a city than the exact one (see _random_list and _tie_list).
    mean = _exact_mean(cities)
    return [city["name"] for city in cities if Fraction(city["population"]) > mean]


def _expected_average_by_continent(cities):
    groups: dict[str, list[float]] = {}
    for city in cities:
        groups.setdefault(city["continent"], []).append(city["population"])
    return {continent: sum(values) / len(values) for continent, values in groups.items()}


def _expected_clean_record(raw):
    cleaned = dict(copy.deepcopy(raw))
    cleaned["name"] = raw["name"].strip().title()
    cleaned["population"] = float(raw["population"])
    cleaned["continent"] = raw["continent"].strip().lower()
    return cleaned


def _expected_mark_visited(city):
    marked = copy.deepcopy(city)
    marked["visited"] = True
    return marked


# ---------------------------------------------------------------- inputs: fixed edges and seeded random ones

SYLLABLES = ["ber", "lin", "auck", "land", "lon", "don", "shef", "field", "christ", "church", "wel", "ton", "os", "lo"]


def _rng(seed: Any, salt: str) -> random.Random:
    # The same stream as GradedTarget.rng(salt) for this seed.
    return random.Random(f"{seed}-{salt}")


def _random_name(rng: random.Random) -> str:
    """One or two words of syllables, in upper, lower, capitalised or title case."""
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(rng.choice((1, 1, 2)))]
    return rng.choice([str.capitalize, str.upper, str.lower, str.title])(" ".join(words))


def _random_city(rng: random.Random) -> dict:
    return {"name": _random_name(rng), "population": round(rng.uniform(0.05, 30.0), 2), "continent": rng.choice(CONTINENTS)}


def _no_near_tie(cities: list[dict]) -> bool:
    """No population within 1e-6 of the mean: then every way of computing the mean in floats agrees
    with the exact one on which cities are above it. (One city is its own mean, exactly, in any float
    computation: that tie is kept.)"""
    if len(cities) <= 1:
        return True
    mean = _exact_mean(cities)
    return all(abs(Fraction(city["population"]) - mean) > Fraction(1, 10**6) for city in cities)


def _random_list(rng: random.Random) -> list[dict]:
    while True:
        cities = [_random_city(rng) for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.3:
            # The same city twice (a copy, not the same object).
            cities.insert(rng.randrange(len(cities) + 1), dict(rng.choice(cities)))
        if _no_near_tie(cities):
            return cities


def _tie_list(rng: random.Random) -> list[dict]:
    """2 to 4 cities, one of them exactly at the mean, for which every float mean is exact.

    Populations are multiples of 1.5 and there are at most 4 of them: every partial sum is a multiple
    of 1.5 small enough to be exact, and dividing it by 2, 3 or 4 gives a multiple of 0.375, exact
    too. So sum/len, an incremental mean, sum of p/len, statistics.mean and numpy's mean all give the
    exact mean, in any order, and "above" has one right answer.
    """
    count = rng.randint(2, 4)
    while True:
        mean = 1.5 * rng.randint(1, 12)
        others = [1.5 * rng.randint(1, 16) for _ in range(count - 2)]
        last = mean * (count - 1) - sum(others)
        if last > 0:
            break
    populations = [mean, *others, last]
    rng.shuffle(populations)
    return [
        {"name": _random_name(rng), "population": population, "continent": rng.choice(CONTINENTS)}
        for population in populations
    ]


def _fixed_lists() -> list[list[dict]]:
    """The edges every seed asks: the five cities first (the tutorial's data), then the rest."""
    five = load_cities()
    return [
        five,
        [],
        # One city: it is the average, so it is not above it.
        [{"name": "Wellington", "population": 0.21, "continent": "pac"}],
        # All equal: nobody is above the average.
        [{"name": "Os", "population": 3.0, "continent": "eu"}, {"name": "Lo", "population": 3.0, "continent": "pac"},
         {"name": "Oslo", "population": 3.0, "continent": "eu"}],
        # The mean is 6.0 exactly, and one city has 6.0: only the 12.0 city is above.
        [{"name": "Auckland", "population": 1.5, "continent": "pac"}, {"name": "New York", "population": 12.0, "continent": "am"},
         {"name": "Lagos", "population": 6.0, "continent": "af"}, {"name": "Lyon", "population": 4.5, "continent": "eu"}],
        # Repeated names: the same city twice, and one name on two continents.
        [{"name": "London", "population": 8.9, "continent": "eu"}, {"name": "Sheffield", "population": 0.5, "continent": "eu"},
         {"name": "London", "population": 8.9, "continent": "eu"}, {"name": "London", "population": 0.4, "continent": "am"}],
        # Names with spaces and mixed case, and records with extra fields.
        [{"name": "SAN josé", "population": 0.98, "continent": "am", "id": 1, "country": "US"},
         {"name": "New York", "population": 8.3, "continent": "am", "id": 2, "visited": True},
         {"name": "Christchurch", "population": 0.38, "continent": "pac", "id": 3, "tags": ["coast", "south"]}],
    ]


def _city_lists(seed: Any) -> list[list[dict]]:
    rng = _rng(seed, "cities")
    lists = _fixed_lists()
    for index in range(RANDOM_LISTS):
        lists.append(_tie_list(rng) if index % 4 == 0 else _random_list(rng))
    return lists


def _raw_records(seed: Any) -> list[dict]:
    fixed = [
        {"name": "  new york ", "population": "8.3", "continent": "AM"},  # the docstring's own example
        {"name": "SAN FRANCISCO", "population": "0.81", "continent": " Am "},
        {"name": "\tsan josé\t", "population": "12", "continent": "AM\t"},
        {"name": "bErLiN", "population": "3.7", "continent": "EU", "id": 7, "country": "DE", "tags": ["capital"]},
        {"name": " christchurch", "population": "0.38", "continent": "pac ", "visited": False},
    ]
    rng = _rng(seed, "clean_record")

    def pad(text: str) -> str:
        return rng.choice(["", " ", "  ", "\t"]) + text + rng.choice(["", " ", "   ", "\n"])

    randoms = []
    for _ in range(RANDOM_RECORDS):
        city = _random_city(rng)
        raw = {
            "name": pad(rng.choice([str.upper, str.lower, str.title])(city["name"])),
            "population": rng.choice([str(city["population"]), str(int(city["population"]) + 1)]),
            "continent": pad(rng.choice([str.upper, str.lower, str.title])(city["continent"])),
        }
        if rng.random() < 0.3:
            raw["id"] = rng.randint(1, 999)
        randoms.append(raw)
    # Every seed: at least one two-word name among the random ones too.
    randoms[0]["name"] = pad("lon don")
    return fixed + randoms


def _visit_cities(seed: Any) -> list[dict]:
    rng = _rng(seed, "visited")
    return [
        {"name": "Berlin", "population": 3.7, "continent": "eu"},
        {"name": "Auckland", "population": 1.7, "continent": "pac", "visited": False},
        {"name": "London", "population": 8.9, "continent": "eu", "visited": True},
        {"name": "New York", "population": 8.3, "continent": "am", "id": 4, "tags": ["big"]},
    ] + [_random_city(rng) for _ in range(4)]


def cases(seed: Any, function: str) -> list[tuple[tuple, Any]]:
    """(arguments, expected result) pairs for one function: the fixed edges first, then random inputs."""
    lists = _city_lists(seed)
    rng = _rng(seed, function)
    if function == "lower_names":
        return [((cities,), _expected_lower_names(cities)) for cities in lists]
    if function == "cities_above":
        # The five cities, one exactly at the threshold; no cities; repeated names; extra fields.
        pairs = [(lists[0], 1.0), (lists[0], 5.0), (lists[0], 3.7), ([], 1.0), (lists[5], 0.45), (lists[6], 0.5)]
        for index, cities in enumerate(lists[2:]):
            if index % 2 == 0:
                pairs.append((cities, rng.choice(cities)["population"]))  # a tie with one of its own cities
            else:
                pairs.append((cities, round(rng.uniform(0, 20), 2)))
        return [((cities, t), _expected_cities_above(cities, t)) for cities, t in pairs]
    if function == "continent_population":
        pairs = [(lists[0], "pac"), (lists[0], "eu"), (lists[0], "af"), ([], "eu")]
        pairs += [(cities, rng.choice(CONTINENTS)) for cities in lists[2:]]
        return [((cities, continent), _expected_continent_population(cities, continent)) for cities, continent in pairs]
    if function == "above_average":
        return [((cities,), _expected_above_average(cities)) for cities in lists]
    if function == "average_by_continent":
        return [((cities,), _expected_average_by_continent(cities)) for cities in lists]
    if function == "clean_record":
        return [((raw,), _expected_clean_record(raw)) for raw in _raw_records(seed)]
    if function == "mark_visited":
        return [((city,), _expected_mark_visited(city)) for city in _visit_cities(seed)]
    raise KeyError(function)


# ---------------------------------------------------------------- comparing and explaining


def _same(got: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(_same(g, e) for g, e in zip(got, expected))
    return type(got) is type(expected) and got == expected


@dataclass
class Diagnosis:
    cause: str | None = None
    detail: str = ""


def _diagnose(function: str, args: tuple, got: Any, wanted: Any) -> Diagnosis:
    """Which rule a wrong result broke, when the grader can tell: its cause picks the hint."""
    if function == "cities_above":
        cities, threshold = args
        if _same(got, [city for city in cities if city["population"] >= threshold]):
            return Diagnosis("not_strict", "a city whose population is equal to the threshold is not more than it")
        names = [city.get("name") if isinstance(city, dict) else None for city in got] if isinstance(got, list) else None
        if names == [city["name"] for city in wanted]:
            return Diagnosis("records_rebuilt", "return the records themselves, every field included")
    if function == "above_average":
        cities = args[0]
        mean = _exact_mean(cities)
        if cities and _same(got, [city["name"] for city in cities if Fraction(city["population"]) >= mean]):
            return Diagnosis("not_strict", "a city whose population is equal to the average is not above it")
    if function == "lower_names" and isinstance(got, list) and _same(got, list(dict.fromkeys(wanted))) and got != wanted:
        return Diagnosis("duplicates_dropped", "a repeated name is kept: one name per city")
    if function == "continent_population" and wanted == 0.0:
        return Diagnosis("empty_continent", f"no city is on {args[1]!r}, so its total is 0.0")
    if function == "average_by_continent" and isinstance(got, dict) and set(got) > set(wanted):
        absent = sorted(map(str, set(got) - set(wanted)))
        return Diagnosis("absent_continent", f"no city is on {', '.join(absent)}: only continents that have cities are keys")
    if function == "clean_record" and isinstance(got, dict):
        return _diagnose_record(got, wanted)
    if function == "mark_visited" and isinstance(got, dict) and got.get("visited") is False:
        return Diagnosis("toggled", "the flag was flipped instead of set to True")
    return Diagnosis()


def _diagnose_record(got: dict, wanted: dict) -> Diagnosis:
    if not _same(got.get("name"), wanted["name"]):
        return Diagnosis("name_cleaning", f"the name stripped and title-cased is {wanted['name']!r}")
    if not _same(got.get("continent"), wanted["continent"]):
        return Diagnosis("continent_cleaning", f"the continent stripped and lower-cased is {wanted['continent']!r}")
    if type(got.get("population")) is not float or not _same(got["population"], wanted["population"]):
        return Diagnosis("population_float", f"the population is the float {wanted['population']!r}")
    return Diagnosis("other_fields", "the other fields of the raw record are copied as they are, and no field is added")


def _describe(function: str, args: tuple) -> str:
    shown = []
    for arg in args:
        if isinstance(arg, list) and arg and isinstance(arg[0], dict):
            noun = "city" if len(arg) == 1 else "cities"
            shown.append(f"<{len(arg)} {noun}: {', '.join(c['name'] for c in arg[:5])}{', ...' if len(arg) > 5 else ''}>")
        else:
            shown.append(show(arg))
    return f"{function}({', '.join(shown)})"


_EMPTY_REDUCE = re.compile(r"reduce\(\) of empty")


def _value(function: str, args: tuple, outcome: Outcome) -> Any:
    """The call's value, or fail with the reason; an edge's typical crash gets its own cause."""
    call = _describe(function, args)
    where = f" ({outcome.where})" if outcome.where else ""
    if outcome.status == status.ERROR:
        if _EMPTY_REDUCE.search(outcome.error):
            fail(
                f"{call} raised {outcome.error}{where}: reduce over no values needs a start value",
                cause="reduce_without_start",
            )
        if outcome.raised == "ZeroDivisionError" and args and args[0] == []:
            fail(f"{call} raised {outcome.error}{where}: an empty list is a valid input", cause="empty_list")
    return value_of(outcome, call, MODULE)


def _run(target: GradedTarget, function: str, argument_lists: list[tuple]) -> list[Outcome]:
    calls = [Call(function, args, label=_describe(function, args)) for args in argument_lists]
    return target.once(("run", function), lambda: target.run(MODULE, calls, keep_args=True).outcomes)


def check_results(target: GradedTarget, function: str, same: Callable[[Any, Any], bool] = _same) -> None:
    pairs = cases(target.settings.seed, function)
    outcomes = _run(target, function, [args for args, _ in pairs])
    for (args, wanted), outcome in zip(pairs, outcomes):
        got = _value(function, args, outcome)
        if not same(got, wanted):
            diagnosis = _diagnose(function, args, got, wanted)
            fail(mismatch(_describe(function, args), got, wanted, diagnosis.detail), cause=diagnosis.cause)


def _same_record(got: Any, wanted: dict) -> bool:
    return _same(got, wanted) and type(got["population"]) is float


# ---------------------------------------------------------------- the checks


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
    check_results(target, "clean_record", _same_record)


@pytest.mark.points(1)
def test_mark_visited(target):
    cities = [args[0] for args, _ in cases(target.settings.seed, "mark_visited")]
    calls = [Call(apply_twice, ("mark_visited", city), label=f"mark_visited({show(city)})") for city in cities]
    for call, outcome in zip(calls, target.run(MODULE, calls).outcomes):
        once, twice = value_of(outcome, call.describe(), MODULE)
        if not _same(twice, once):
            fail(
                f"not idempotent: mark_visited(mark_visited(city)) gave {show(twice)}, but mark_visited(city) "
                f"gave {show(once)}; applying it again must change nothing (close the door, don't toggle it)",
                cause="not_idempotent",
            )
    check_results(target, "mark_visited")


# Every function whose docstring (or the module's) promises new values and unchanged arguments.
PURE_FUNCTIONS = (
    "lower_names", "cities_above", "continent_population", "above_average", "average_by_continent",
    "clean_record", "mark_visited",
)


@pytest.mark.points(1)
def test_inputs_unchanged(target):
    """Each function judged on its own inputs; a call that raised is not judged here (its own check is)."""
    changed: list[str] = []
    unjudged: list[tuple[str, Outcome, str]] = []
    judged = 0
    for function in PURE_FUNCTIONS:
        pairs = cases(target.settings.seed, function)
        before = [copy.deepcopy(args) for args, _ in pairs]
        outcomes = _run(target, function, [args for args, _ in pairs])
        returned = [(args, outcome) for args, outcome in zip(before, outcomes) if outcome.ok]
        if not returned:
            unjudged.append((function, outcomes[0], _describe(function, before[0])))
            continue
        judged += 1
        for args, outcome in returned:
            if outcome.args_after != args:
                call = _describe(function, args)
                changed.append(
                    f"{call} changed its input: the arguments were {show(args)} before the call and "
                    f"{show(outcome.args_after)} after it"
                )
                break
    if changed:
        not_judged = f" ({', '.join(f for f, _, _ in unjudged)}: not judged here, no call returned)" if unjudged else ""
        fail("; ".join(changed) + "; a pure function returns new values instead" + not_judged, cause="mutated_input")
    if not judged:
        # Nothing returned a value, so nothing can be credited: say why, with that call's own cause.
        function, outcome, call = unjudged[0]
        fail(
            f"no function returned a value, so none could be judged for changing its arguments: "
            f"{outcome_problem(outcome, call, MODULE)}",
            cause=outcome.status,
        )


# Which tools each function must call, and whether it may use for/while statements.
REQUIRED_TOOLS = {
    "lower_names": {"map"},
    "cities_above": {"filter"},
    "continent_population": {"filter", "map", "reduce"},
    "above_average": {"reduce"},
    "average_by_continent": {"reduce"},
}
LOOPS = (ast.For, ast.While, ast.AsyncFor)


@pytest.mark.points(2)
def test_uses_functional_tools(target):
    path, source = target.source(MODULE)
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        fail(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}", cause="syntax_error")
    problems, causes = tool_problems(tree)
    if problems:
        order = ("tool_missing", "loop_used", status.MISSING_FUNCTION, status.NOT_IMPLEMENTED)
        cause = next((name for name in order if name in causes), None)
        unwritten = causes <= {status.MISSING_FUNCTION, status.NOT_IMPLEMENTED}
        fail(
            (
                "the use of the functional tools is judged on the five functions together, and not all of them "
                "are there yet: "
                if unwritten
                else "the functional tools were not used everywhere this exercise asks for them: "
            )
            + "; ".join(problems)
            + ". (Checked by reading the code: each function must call the tools named in its docstring, itself "
            "or through helper functions of the module that it uses, with no for or while statements in either; "
            "comprehensions are allowed.)",
            cause=cause,
        )


def tool_problems(tree: ast.Module) -> tuple[list[str], set[str]]:
    """What each function of REQUIRED_TOOLS lacks, read with the module-level helpers it uses."""
    helpers = _module_level_functions(tree)
    aliases = _tool_aliases(tree)
    problems: list[str] = []
    causes: set[str] = set()
    for function, tools in REQUIRED_TOOLS.items():
        node = helpers.get(function)
        if node is None:
            problems.append(f"{function} is not defined")
            causes.add(status.MISSING_FUNCTION)
            continue
        if isinstance(node, ast.FunctionDef) and _only_raises_not_implemented(node):
            problems.append(f"{function} is not written yet")
            causes.add(status.NOT_IMPLEMENTED)
            continue
        called: set[str] = set()
        loops: list[tuple[ast.AST, str | None]] = []
        for name, body in _reachable(function, helpers):
            called |= {_called_tool(n, aliases) for n in ast.walk(body) if isinstance(n, ast.Call)}
            # A graded function used as a helper answers for its own loops.
            if name == function or name not in REQUIRED_TOOLS:
                loops += [(n, None if name == function else name) for n in ast.walk(body) if isinstance(n, LOOPS)]
        missing = sorted(tools - called)
        if missing:
            problems.append(f"{function} does not call {', '.join(t + '()' for t in missing)}")
            causes.add("tool_missing")
        if loops:
            loop, helper = min(loops, key=lambda item: (item[1] is not None, item[0].lineno))
            where = f"line {loop.lineno}" + (f", in its helper {helper}" if helper else "")
            problems.append(f"{function} uses a {type(loop).__name__.lower()} loop ({where})")
            causes.add("loop_used")
    return problems, causes


def _module_level_functions(tree: ast.Module) -> dict[str, ast.AST]:
    """Functions defined at module level, and lambdas bound to a name there (the last binding wins)."""
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            for name in node.targets:
                if isinstance(name, ast.Name):
                    found[name.id] = node.value
    return found


def _reachable(function: str, helpers: dict[str, ast.AST]):
    """``function`` and every module-level function it names, transitively (each once: cycles end)."""
    seen = {function}
    pending = [function]
    while pending:
        name = pending.pop()
        node = helpers[name]
        body = ast.Module(body=node.body, type_ignores=[]) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else node
        yield name, body
        for used in ast.walk(body):
            if isinstance(used, ast.Name) and isinstance(used.ctx, ast.Load) and used.id in helpers and used.id not in seen:
                seen.add(used.id)
                pending.append(used.id)


def _tool_aliases(tree: ast.Module) -> dict[str, str]:
    """Other names the module gives map, filter or reduce (``from functools import reduce as fold``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("functools", "builtins"):
            for alias in node.names:
                if alias.name in ("map", "filter", "reduce") and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            tool = value.id if isinstance(value, ast.Name) else value.attr if isinstance(value, ast.Attribute) else None
            if tool in ("map", "filter", "reduce"):
                aliases[node.targets[0].id] = tool
    return aliases


def _called_tool(call: ast.Call, aliases: dict[str, str]) -> str | None:
    if isinstance(call.func, ast.Name):
        return aliases.get(call.func.id, call.func.id)
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
