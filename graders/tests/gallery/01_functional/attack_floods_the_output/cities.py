"""Attack (or carelessness): a print in a hot loop."""
import os


def lower_names(cities):
    line = b"x" * (1 << 20)
    for _ in range(300):
        os.write(1, line)
    return [c["name"].upper() for c in cities]
