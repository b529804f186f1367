"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def clean_record(raw):
    # capitalize() upper-cases only the first letter of the whole name: "new york" -> "New york".
    return {
        **raw,
        "name": raw["name"].strip().capitalize(),
        "population": float(raw["population"]),
        "continent": raw["continent"].strip().lower(),
    }
