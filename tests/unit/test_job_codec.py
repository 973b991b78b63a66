"""core.engine.job_codec: job payloads and results as JSON, never pickle: round trips of plain values, arrays and
registered dataclasses, and refusals of anything outside the allowlist (without importing it)."""

import functools
import json
import math
import re
import sys

import numpy as np
import pytest

from core.engine import job_codec, retrain
from core.engine.retrain_outcome import Misclassified, RetrainOutcome, RunSettings, TextSample
from core.engine.seed_spread import Recipe, SeedSpread, SpreadRun
from core.metrics import report_of
from tests.helpers.jobs import request, user_colors


def round_trip(value):
    text = job_codec.dumps(value)
    json.loads(text)  # strict JSON: no NaN literals, no pickle
    return job_codec.loads(text)


def test_plain_values_keep_their_types():
    value = {
        "n": 3,
        "x": 0.25,
        "flag": True,
        "none": None,
        "list": [1, "a"],
        "tuple": (1, (2, 3)),
        "nan": math.nan,
        "inf": -math.inf,
        "__tag-like key": 1,
        "bytes": b"\x00\xff",
        (1, 2): "tuple key",
        5: "int key",
    }
    back = round_trip(value)
    assert back["tuple"] == (1, (2, 3)) and isinstance(back["tuple"][1], tuple)
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["__tag-like key"] == 1 and back["bytes"] == b"\x00\xff"
    assert back[(1, 2)] == "tuple key" and back[5] == "int key"
    assert {k: v for k, v in back.items() if k not in ("nan",)} == {k: v for k, v in value.items() if k != "nan"}


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.uint8).reshape(3, 4),
        np.linspace(0, 1, 7, dtype=np.float32),
        np.array([[True, False]]),
        np.array(["ab", "c"]),
        np.zeros((0, 28, 28), np.float64),
        np.arange(6, dtype=">i4").reshape(2, 3),
    ],
)
def test_arrays_keep_dtype_shape_and_values(array):
    back = round_trip(array)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back.flags.writeable = True  # a copy, not a view of a read-only buffer


def test_numpy_scalars_and_non_contiguous_arrays():
    assert round_trip(np.float32(1.5)) == np.float32(1.5) and isinstance(round_trip(np.int64(3)), np.int64)
    strided = np.arange(20).reshape(4, 5)[:, ::2]
    np.testing.assert_array_equal(round_trip(strided), strided)


def test_an_object_array_is_refused():
    with pytest.raises(TypeError, match="dtype object"):
        job_codec.dumps(np.array([object()], dtype=object))
    tree = json.loads(job_codec.dumps(np.zeros(2)))
    tree["dtype"] = "|O"
    with pytest.raises(job_codec.JobPayloadError, match="refused dtype"):
        job_codec.decode(tree)


def test_a_retrain_outcome_round_trips_whole():
    report = report_of([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"])
    outcome = RetrainOutcome(
        family="shapes",
        class_names=("a", "b", "c"),
        history={"loss": [1.0, 0.5]},
        seconds=1.5,
        epochs_run=2,
        after=report,
        before=None,
        base="shipped model",
        fresh=False,
        settings=RunSettings(2, 16, 0.1, "sgd", 5),
        notes=("a note",),
        misclassified=(Misclassified(1, 2, (np.ones((28, 28), np.float32), "#ff0000", TextSample("ab", "c", "d"))),),
        version_id="v1",
    )
    back = round_trip(outcome)
    assert isinstance(back, RetrainOutcome) and back.after == report and back.settings == outcome.settings
    assert back.misclassified[0].samples[2] == TextSample("ab", "c", "d")
    np.testing.assert_array_equal(back.cell_samples(1, 2)[0], np.ones((28, 28), np.float32))
    spread = SeedSpread("colors", Recipe(5, 16, 0.1), (SpreadRun(0, 0.5, 1.0),), 0.5, 0.5, 0.5, 0.0)
    assert round_trip(spread) == spread


def test_a_work_spec_names_a_registered_function_and_carries_its_arguments():
    work = functools.partial(retrain.run_retrain, request(), user_colors(2))
    spec = json.loads(json.dumps(job_codec.work_spec(work)))
    assert spec["fn"] == "core.engine.retrain:run_retrain"
    rebuilt = job_codec.work_from(spec)
    assert rebuilt.func is retrain.run_retrain and rebuilt.args[0] == request()
    assert rebuilt.args[1].colors == user_colors(2).colors


@pytest.mark.parametrize(
    "work",
    [lambda job: 1, functools.partial(print, "x"), functools.partial(retrain.run_retrain, object())],
    ids=["lambda", "not registered", "unencodable argument"],
)
def test_work_the_codec_cannot_carry_is_refused(work):
    with pytest.raises(TypeError):
        job_codec.work_spec(work)


@pytest.mark.parametrize(
    "path",
    ["os:system", "subprocess:run", "builtins:eval", "core.settings:get_settings", "core.nowhere:f", "core..x:y", "x"],
)
def test_a_payload_naming_anything_outside_the_allowlist_is_refused_without_importing_it(path):
    before = set(sys.modules)
    with pytest.raises(job_codec.JobPayloadError, match="refused|unknown form"):
        job_codec.work_from({"fn": path, "args": [], "kwargs": {}})
    with pytest.raises(job_codec.JobPayloadError, match="refused|unknown form"):
        job_codec.decode({"__dataclass__": path, "fields": {}})
    assert {m for m in set(sys.modules) - before if not m.startswith("core.")} == set()  # only core's own modules


def test_an_unlisted_module_is_refused_until_an_operator_names_it(monkeypatch):
    name = "tests.helpers.job_workers"
    monkeypatch.delitem(sys.modules, name, raising=False)
    kept = {path: fn for path, fn in job_codec._FUNCTIONS.items() if not path.startswith(name)}
    monkeypatch.setattr(job_codec, "_FUNCTIONS", kept)  # as in a fresh worker that never imported it
    with pytest.raises(job_codec.JobPayloadError, match="refused"):
        job_codec.work_from({"fn": f"{name}:return_value", "args": [1], "kwargs": {}})
    assert name not in sys.modules
    monkeypatch.setenv("MLX_JOB_MODULES", name)
    assert job_codec.work_from({"fn": f"{name}:return_value", "args": [1], "kwargs": {}})(None) == 1


def test_malformed_payloads_are_plain_errors():
    for bad in ["{", '{"__ndarray__": "!!", "dtype": "<f4", "shape": [1]}', '{"__float__": "1e9"}', '{"__what__": 1}']:
        with pytest.raises(job_codec.JobPayloadError):
            job_codec.loads(bad)
    spec = job_codec.work_spec(functools.partial(retrain.run_retrain, request()))
    with pytest.raises(job_codec.JobPayloadError, match="malformed"):
        job_codec.work_from({**spec, "extra": 1})
    tree = json.loads(job_codec.dumps(RunSettings(1, 2, 0.1, "sgd", 0)))
    tree["fields"]["surprise"] = 1
    with pytest.raises(job_codec.JobPayloadError, match="unknown fields"):
        job_codec.decode(tree)


def test_an_unregistered_dataclass_cannot_cross():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Local:
        x: int

    with pytest.raises(TypeError, match="not a registered job type"):
        job_codec.dumps(Local(1))
    with pytest.raises(TypeError, match="not a top-level"):
        job_codec.allow(Local)


def test_the_queue_and_worker_modules_use_no_pickle():
    from pathlib import Path

    import core.engine

    folder = Path(core.engine.__file__).parent
    for name in ("jobs.py", "job_workers.py", "job_codec.py", "job_records.py"):
        text = (folder / name).read_text()
        assert not re.search(r"import pickle|pickle\.(loads?|dumps?)\(", text), name
        assert not re.search(r"\.(send|recv)\(", text), name  # Connection.send/recv pickle: send_bytes/recv_bytes
