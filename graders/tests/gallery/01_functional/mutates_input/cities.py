"""Gallery entry: appended to solutions/01_functional/cities.py, replacing what it redefines."""


def clean_record(raw):
    raw["name"] = raw["name"].strip().title()
    raw["population"] = float(raw["population"])
    raw["continent"] = raw["continent"].strip().lower()
    return raw
