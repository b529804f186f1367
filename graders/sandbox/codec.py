"""Results cross the sandbox boundary as data in a stated format, never as objects.

What a learner's function returns is turned, inside the sandbox, into a tree of builtin values:
None, bool, int, float, str, bytes, list, tuple, dict, set and frozenset, with a small dict tagged
``{MARK: kind, ...}`` for each value of another kind the graders need (complex numbers, dates and
times, numpy arrays and scalars without object dtype, pandas DataFrame / Series / Index rebuilt from
plain columns, and the graders' own dataclasses and enums). That tree is pickled; the grading process
reads it with an unpickler that resolves no name at all, so the payload can build builtin containers
and scalars and nothing else: it cannot import, call or construct anything it names. The tagged dicts
are then rebuilt by this module's own code, which looks the graders' dataclasses up among modules the
grading process has already imported, never importing one on the payload's word.

Subclasses of builtins (a ``str`` that claims to equal everything, a ``list`` with its own ``__eq__``)
arrive as the plain builtin: the grader compares what was computed, not how it compares itself.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import io
import math
import pickle
import sys
from decimal import Decimal
from fractions import Fraction

MARK = "__graders__"
# The most one result may weigh once encoded: more is refused rather than kept in the grader's memory.
MAX_BYTES = 64 << 20
_MAX_DEPTH = 200
_NUMPY_KINDS = frozenset("biufcmMSU")


class NotData(TypeError):
    """The value holds something that is not data in the stated format; the message names it."""


class UnsafePayload(pickle.UnpicklingError):
    """The payload asked for a name: only builtin containers and scalars may be built."""


# ---------------------------------------------------------------- sandbox side: value -> bytes


def dumps(value) -> bytes:
    data = pickle.dumps(_encode(value, 0, set()), protocol=4)
    if len(data) > MAX_BYTES:
        raise NotData(f"a result of {len(data) >> 20} MiB, more than the {MAX_BYTES >> 20} MiB a result may take")
    return data


def _encode(value, depth: int, active: set):
    if depth > _MAX_DEPTH:
        raise NotData("a structure nested more than 200 levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, str, bytes):
        return value
    if kind is float:
        return value if math.isfinite(value) else {MARK: "float", "repr": repr(value)}
    if kind is complex:
        return {MARK: "complex", "real": value.real, "imag": value.imag}
    if isinstance(value, enum.Enum):
        return _tagged_class(value, {"value": _encode(value.value, depth + 1, active)}, "enum")
    for base in (bool, int, float, str, bytes):
        if isinstance(value, base) and not _is_numpy(value):
            return _encode(base(value), depth, active)
    if id(value) in active:
        raise NotData(f"a {kind.__name__} that contains itself")
    active.add(id(value))
    try:
        return _encode_container(value, depth + 1, active)
    finally:
        active.discard(id(value))


def _encode_container(value, depth: int, active: set):
    kind = type(value)
    if isinstance(value, dict):
        items = [(_encode(k, depth, active), _encode(v, depth, active)) for k, v in value.items()]
        if all(type(k) in (str, int, float, bool, type(None), bytes, tuple) for k, _ in items) and MARK not in value:
            return dict(items)
        return {MARK: "dict", "items": items}
    if isinstance(value, (list, tuple, set, frozenset)):
        # A named tuple, a list subclass... arrive as the builtin they extend.
        items = [_encode(item, depth, active) for item in value]
        if isinstance(value, tuple):
            return tuple(items)
        if isinstance(value, (set, frozenset)):
            return {MARK: "frozenset" if isinstance(value, frozenset) else "set", "items": items}
        return items
    if kind.__module__ == "collections" and kind.__name__ == "deque":
        return [_encode(item, depth, active) for item in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time, _dt.timedelta)):
        return _encode_time(value)
    if isinstance(value, (Decimal, Fraction)):
        return {MARK: kind.__name__, "text": str(value)}
    if _is_numpy(value):
        return _encode_numpy(value, depth, active)
    if _is_pandas(value):
        return _encode_pandas(value, depth, active)
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and kind.__module__.split(".")[0] == "graders":
        fields = {f.name: _encode(getattr(value, f.name), depth, active) for f in dataclasses.fields(value)}
        return _tagged_class(value, fields, "dataclass")
    raise NotData(f"a {_type_name(value)}")


def _tagged_class(value, fields: dict, kind: str) -> dict:
    cls = type(value)
    if cls.__module__.split(".")[0] != "graders":
        if kind == "enum":
            return fields["value"]
        raise NotData(f"a {_type_name(value)}")
    return {MARK: kind, "module": cls.__module__, "name": cls.__qualname__, "fields": fields}


def _encode_time(value) -> dict:
    if isinstance(value, _dt.timedelta):
        return {MARK: "timedelta", "days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}
    if isinstance(value, (_dt.datetime, _dt.time)) and value.tzinfo is not None:
        offset = value.utcoffset()
        if isinstance(value, _dt.datetime):
            value = value.replace(tzinfo=None)
        else:
            value = value.replace(tzinfo=None)
        return {MARK: type(value).__name__, "iso": value.isoformat(), "offset_s": offset.total_seconds() if offset is not None else 0.0}
    return {MARK: type(value).__name__ if type(value) in (_dt.datetime, _dt.date, _dt.time) else _base_time(value), "iso": value.isoformat()}


def _base_time(value) -> str:
    for base in (_dt.datetime, _dt.date, _dt.time):
        if isinstance(value, base):
            return base.__name__
    raise NotData(f"a {_type_name(value)}")


def _is_numpy(value) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic))


def _is_pandas(value) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series, pandas.Index))


def _encode_numpy(value, depth: int, active: set):
    import numpy

    array = numpy.asarray(value)
    if array.dtype.kind == "O":
        items = [_encode(item, depth, active) for item in array.ravel().tolist()]
        return {MARK: "object_array", "shape": list(array.shape), "items": items}
    if array.dtype.kind not in _NUMPY_KINDS or array.dtype.fields is not None:
        raise NotData(f"a numpy {'array' if isinstance(value, numpy.ndarray) else 'scalar'} of dtype {array.dtype}")
    tag = "ndarray" if isinstance(value, numpy.ndarray) else "npscalar"
    return {MARK: tag, "dtype": array.dtype.str, "shape": list(array.shape), "data": numpy.ascontiguousarray(array).tobytes()}


def _encode_pandas(value, depth: int, active: set):
    import pandas

    if isinstance(value, pandas.DataFrame):
        return {
            MARK: "DataFrame",
            "columns": _encode_index(value.columns, depth, active),
            "data": [_encode_column(value.iloc[:, i], depth, active) for i in range(value.shape[1])],
            "index": _encode_index(value.index, depth, active),
        }
    if isinstance(value, pandas.Series):
        return {
            MARK: "Series",
            "name": _encode(value.name, depth, active),
            "data": _encode_column(value, depth, active),
            "index": _encode_index(value.index, depth, active),
        }
    return _encode_index(value, depth, active)


def _encode_column(series, depth: int, active: set) -> dict:
    import numpy

    dtype = series.dtype
    if isinstance(dtype, numpy.dtype) and dtype.kind in _NUMPY_KINDS:
        return {MARK: "column", "dtype": str(dtype), "values": _encode_numpy(series.to_numpy(), depth, active)}
    values = [None if _missing(v) else _encode(_plain_scalar(v), depth, active) for v in series.tolist()]
    return {MARK: "column", "dtype": str(dtype), "values": values}


def _plain_scalar(value):
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.Timestamp):
        return value.to_pydatetime()
    if pandas is not None and isinstance(value, pandas.Timedelta):
        return value.to_pytimedelta()
    return value


def _missing(value) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in ("NAType", "NaTType")
    except Exception:  # noqa: BLE001 - an odd scalar is encoded (or refused) as itself
        return False


def _encode_index(index, depth: int, active: set) -> dict:
    import pandas

    if isinstance(index, pandas.RangeIndex):
        return {MARK: "RangeIndex", "start": int(index.start), "stop": int(index.stop), "step": int(index.step),
                "name": _encode(index.name, depth, active)}
    if isinstance(index, pandas.MultiIndex):
        return {MARK: "MultiIndex", "tuples": [_encode(tuple(t), depth, active) for t in index.tolist()],
                "names": [_encode(n, depth, active) for n in index.names]}
    return {MARK: "Index", "values": _encode_column(pandas.Series(index, copy=False), depth, active),
            "name": _encode(index.name, depth, active)}


def _type_name(value) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__} object"


# ---------------------------------------------------------------- grading side: bytes -> value


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise UnsafePayload(f"the result names {module}.{name}; only plain data may cross from the sandbox")

    def persistent_load(self, pid):
        raise UnsafePayload("the result refers to an outside object; only plain data may cross from the sandbox")


def loads(data: bytes):
    """Rebuild a value that :func:`dumps` wrote; any payload that is not data raises UnsafePayload."""
    if len(data) > MAX_BYTES:
        raise UnsafePayload(f"a result of more than {MAX_BYTES >> 20} MiB")
    return _decode(_DataOnly(io.BytesIO(data)).load())


def _decode(tree):
    kind = type(tree)
    if kind is list:
        return [_decode(item) for item in tree]
    if kind is tuple:
        return tuple(_decode(item) for item in tree)
    if kind is dict:
        if MARK in tree:
            return _decode_tagged(tree)
        return {_decode(k): _decode(v) for k, v in tree.items()}
    if kind in (set, frozenset):
        return kind(_decode(item) for item in tree)
    return tree


def _decode_tagged(tree: dict):
    tag = tree[MARK]
    builder = _BUILDERS.get(tag)
    if builder is None:
        raise UnsafePayload(f"the result holds a value of unknown kind {tag!r}")
    try:
        return builder(tree)
    except UnsafePayload:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed payload is refused, whatever broke
        raise UnsafePayload(f"a malformed {tag}: {type(exc).__name__}: {exc}") from None


# The grader's modules whose dataclasses sandbox helpers return: a payload may name one of these,
# which are imported here by their fixed names, and nothing else.
RESULT_MODULES = frozenset({
    "graders.sandbox.calls", "graders.sandbox.trace_format",
    "graders.harnesses.asyncio_calls", "graders.harnesses.collection_calls", "graders.harnesses.dask_calls",
    "graders.harnesses.executor_calls",
    "graders.harnesses.http_calls", "graders.harnesses.pipeline_calls", "graders.harnesses.pipeline_reference",
    "graders.harnesses.reference", "graders.harnesses.thread_calls",
    "graders.instruments.blocking", "graders.instruments.http_mock", "graders.instruments.loopback_http",
    "graders.instruments.virtual_clock",
})


def _graders_class(tree: dict):
    import importlib

    module_name, name = str(tree["module"]), str(tree["name"])
    if module_name not in RESULT_MODULES:
        raise UnsafePayload(f"the result names {module_name}.{name}, which is not one of the grader's result types")
    return vars(importlib.import_module(module_name)).get(name)


def _build_dataclass(tree: dict):
    cls = _graders_class(tree)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise UnsafePayload(f"{tree['module']}.{tree['name']} is not one of the grader's data types")
    fields = {k: _decode(v) for k, v in tree["fields"].items()}
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    instance = cls(**{k: v for k, v in fields.items() if k in known})
    for name in fields.keys() - known:
        object.__setattr__(instance, name, fields[name])
    return instance


def _build_enum(tree: dict):
    cls = _graders_class(tree)
    if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
        raise UnsafePayload(f"{tree['module']}.{tree['name']} is not one of the grader's enums")
    return cls(_decode(tree["fields"]["value"]))


def _build_array(tree: dict):
    import numpy

    dtype = numpy.dtype(str(tree["dtype"]))
    if dtype.kind not in _NUMPY_KINDS or dtype.fields is not None:
        raise UnsafePayload(f"a numpy array of dtype {dtype}")
    shape = tuple(int(n) for n in tree["shape"])
    return numpy.frombuffer(bytes(tree["data"]), dtype=dtype).reshape(shape).copy()


def _build_scalar(tree: dict):
    return _build_array(tree)[()]


def _build_object_array(tree: dict):
    import numpy

    items = [_decode(item) for item in tree["items"]]
    array = numpy.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(tuple(int(n) for n in tree["shape"]))


def _build_column(tree: dict):
    import pandas

    values = tree["values"]
    decoded = _decode(values) if isinstance(values, dict) else [_decode(v) for v in values]
    dtype = str(tree["dtype"])
    try:
        return pandas.array(decoded, dtype=dtype) if not isinstance(values, dict) else decoded
    except (TypeError, ValueError):
        return decoded


def _build_index(tree: dict):
    import pandas

    tag = tree[MARK]
    if tag == "RangeIndex":
        return pandas.RangeIndex(int(tree["start"]), int(tree["stop"]), int(tree["step"]), name=_decode(tree["name"]))
    if tag == "MultiIndex":
        return pandas.MultiIndex.from_tuples([_decode(t) for t in tree["tuples"]], names=[_decode(n) for n in tree["names"]])
    return pandas.Index(_build_column(tree["values"]), name=_decode(tree["name"]))


def _build_frame(tree: dict):
    import pandas

    columns = _decode(tree["columns"])
    data = [_build_column(column) for column in tree["data"]]
    index = _decode(tree["index"])
    frame = pandas.DataFrame({i: column for i, column in enumerate(data)}, index=index if len(data) else None)
    if not len(data):
        frame = pandas.DataFrame(index=index)
    frame.columns = columns
    return frame


def _build_series(tree: dict):
    import pandas

    return pandas.Series(_build_column(tree["data"]), index=_decode(tree["index"]), name=_decode(tree["name"]))


def _build_time(tree: dict):
    kind = {"datetime": _dt.datetime, "date": _dt.date, "time": _dt.time}[tree[MARK]]
    value = kind.fromisoformat(str(tree["iso"]))
    if "offset_s" in tree:
        value = value.replace(tzinfo=_dt.timezone(_dt.timedelta(seconds=float(tree["offset_s"]))))
    return value


def _items(tree: dict) -> list:
    return [_decode(item) for item in tree["items"]]


_BUILDERS = {
    "float": lambda t: float(str(t["repr"])),
    "complex": lambda t: complex(float(t["real"]), float(t["imag"])),
    "dict": lambda t: {_decode(k): _decode(v) for k, v in t["items"]},
    "set": lambda t: set(_items(t)),
    "frozenset": lambda t: frozenset(_items(t)),
    "timedelta": lambda t: _dt.timedelta(days=int(t["days"]), seconds=int(t["seconds"]), microseconds=int(t["microseconds"])),
    "datetime": _build_time,
    "date": _build_time,
    "time": _build_time,
    "Decimal": lambda t: Decimal(str(t["text"])),
    "Fraction": lambda t: Fraction(str(t["text"])),
    "ndarray": _build_array,
    "npscalar": _build_scalar,
    "object_array": _build_object_array,
    "column": _build_column,
    "DataFrame": _build_frame,
    "Series": _build_series,
    "Index": _build_index,
    "RangeIndex": _build_index,
    "MultiIndex": _build_index,
    "dataclass": _build_dataclass,
    "enum": _build_enum,
}
