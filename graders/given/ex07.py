"""The grader's copies of what exercise 07 gives the learner (scada.py).

The expected rows of read_scada are counted with these, never with the learner's module.
"""
import pandas as pd

STUB_FUNCTIONS = {"scada": ("read_month",)}

PATTERN = "PUBLIC_DVD_DISPATCH_UNIT_SCADA_*.CSV"
READ_OPTIONS = {
    "skiprows": 1,
    "usecols": ["I", "SETTLEMENTDATE", "DUID", "SCADAVALUE"],
    "dtype": {"I": "str", "SETTLEMENTDATE": "str", "DUID": "str", "SCADAVALUE": "float64"},
}


def read_month(path):
    """One file's data rows ("D"), read with pandas: the serial way."""
    frame = pd.read_csv(path, **READ_OPTIONS)
    return frame[frame["I"] == "D"]
