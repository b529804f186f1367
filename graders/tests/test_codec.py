"""What a sandbox returns crosses as data: everything the graders compare comes back equal, nothing else comes back."""
from __future__ import annotations

import collections
import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest

from graders.sandbox import calls as c
from graders.sandbox import codec

VALUES = [
    0, -7, 2**80, 2.5, True, None, "naïve", b"\x00\xff", 1 + 2j, (1, (2, [3])), [1, "a", None], {"k": [1, 2]},
    {1: "int key", (2, 3): "tuple key"}, {codec.MARK: "a dict that uses the marker"}, {1, 2}, frozenset({"x"}),
    dt.datetime(2024, 5, 1, 12, 30), dt.datetime(2024, 5, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    dt.date(2024, 1, 31), dt.time(23, 59, 1), dt.timedelta(days=-1, seconds=5),
    collections.OrderedDict(a=1), collections.Counter("abca"), collections.namedtuple("Point", "x y")(1, 2),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_plain_values_come_back_equal(value):
    back = codec.loads(codec.dumps(value))
    assert back == value


def test_special_floats_come_back():
    nan, inf = codec.loads(codec.dumps([float("nan"), float("-inf")]))
    assert nan != nan and inf == float("-inf")


def test_numpy_values_keep_shape_and_dtype():
    for array in (np.arange(12, dtype=np.int32).reshape(3, 4), np.random.default_rng(1).random((2, 3, 3)),
                  np.array(["ab", "c"]), np.array([True, False]), np.array(["2024-01-01"], dtype="M8[ns]")):
        back = codec.loads(codec.dumps(array))
        assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
    assert codec.loads(codec.dumps(np.float32(1.5))) == np.float32(1.5)


def test_pandas_values_come_back_equal():
    frame = pd.DataFrame(
        {"when": pd.to_datetime(["2024-01-01", "2024-01-02"]), "price": [1.5, 2.5], "region": ["NSW1", "VIC1"], "n": [1, 2]}
    )
    grouped = frame.groupby("region").agg(mean=("price", "mean"), std=("price", "std"))
    multi = frame.set_index(["region", "n"])
    for value in (frame, grouped, multi, frame["price"], frame.set_index("when")["n"], pd.Index(["a", "b"], name="i")):
        back = codec.loads(codec.dumps(value))
        assert back.equals(value), (value, back)


def test_grader_dataclasses_come_back_as_themselves():
    outcome = c.Outcome("ok", value={"a": np.arange(3)}, leftovers=["x"], seconds=0.5)
    back = codec.loads(codec.dumps(outcome))
    assert isinstance(back, c.Outcome) and back.status == "ok" and back.leftovers == ["x"]
    assert np.array_equal(back.value["a"], np.arange(3))


class _ClaimsEquality(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def test_subclasses_of_builtins_arrive_as_the_builtin():
    back = codec.loads(codec.dumps([_ClaimsEquality("wrong")]))
    assert type(back[0]) is str and back[0] != "right"


class _Executes:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("value", [object(), _Executes(), lambda: 1, iter([1]), np.array([object()])[:0].reshape(0, 1).astype("V8")])
def test_what_is_not_data_is_refused_by_the_sandbox(value):
    with pytest.raises(codec.NotData):
        codec.dumps(value)


def test_a_payload_that_names_anything_is_refused_by_the_grader():
    for payload in (pickle.dumps(_Executes()), pickle.dumps(print), pickle.dumps(object()),
                    pickle.dumps({codec.MARK: "dataclass", "module": "os", "name": "system", "fields": {}}),
                    pickle.dumps({codec.MARK: "ndarray", "dtype": "O", "shape": [1], "data": b"\0" * 8})):
        with pytest.raises(codec.UnsafePayload):
            codec.loads(payload)


def test_a_structure_that_contains_itself_is_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(codec.NotData, match="contains itself"):
        codec.dumps(loop)
