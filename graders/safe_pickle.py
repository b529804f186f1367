"""Reading what a sandbox sends back without running code the learner chose.

A plain ``pickle.load`` would let learner code that writes its own result file execute anything
in the grading process (and so change its grade). Results are plain data, numpy arrays and pandas
objects, or the graders' own dataclasses; nothing else may be rebuilt.
"""
from __future__ import annotations

import dataclasses
import enum
import importlib
import io
import pickle

_BUILTINS = frozenset(
    {"list", "dict", "set", "frozenset", "tuple", "complex", "bytearray", "bytes", "str", "int", "float", "bool", "slice", "range", "object"}
)
_PLAIN = {
    "collections": {"OrderedDict", "defaultdict", "deque", "Counter"},
    "copyreg": {"_reconstructor"},
    "datetime": {"date", "datetime", "time", "timedelta", "timezone"},
    "decimal": {"Decimal"},
    "fractions": {"Fraction"},
}
_NUMPY_FUNCTIONS = frozenset({"_reconstruct", "scalar", "_frombuffer"})
# pandas classes that open or write files when built.
_PANDAS_DENIED = frozenset({"ExcelWriter", "ExcelFile", "HDFStore"})


class UnsafeResult(pickle.UnpicklingError):
    """The result asked to rebuild something that is not data."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if _allowed(module, name):
            return super().find_class(module, name)
        raise UnsafeResult(f"the result contains {module}.{name}, which is not plain data")


def _allowed(module: str, name: str) -> bool:
    if module == "builtins":
        return name in _BUILTINS
    if name in _PLAIN.get(module, ()):
        return True
    root = module.split(".")[0]
    if root not in ("numpy", "pandas", "graders"):
        return False
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    if root == "numpy":
        import numpy

        return name in _NUMPY_FUNCTIONS or (isinstance(found, type) and issubclass(found, (numpy.generic, numpy.dtype, numpy.ndarray)) and found is not numpy.memmap)
    if root == "pandas":
        if module.startswith("pandas.io") or name in _PANDAS_DENIED:
            return False
        return isinstance(found, type) or name.startswith(("_unpickle", "_new_", "__pyx_unpickle"))
    return isinstance(found, type) and (dataclasses.is_dataclass(found) or issubclass(found, enum.Enum))


def loads(data: bytes):
    return _Unpickler(io.BytesIO(data)).load()
