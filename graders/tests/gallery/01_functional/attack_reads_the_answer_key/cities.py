"""Attack: read the answer key by path instead of importing it."""
import pathlib

import graders


def lower_names(cities):
    package = pathlib.Path(graders.__file__).parent
    (package / "suite" / "test_01_functional.py").read_text()
    (package.parent / "solutions" / "01_functional" / "cities.py").read_text()
    return [c["name"].lower() for c in cities]
