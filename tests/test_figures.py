"""The live pages' bar charts are built without plotly's validation (for speed): the same dicts must pass it."""

import numpy as np
import plotly.graph_objects as go
import pytest

from core import figures as fig

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("range_max", [1.0, None])
def test_unvalidated_bars_pass_plotlys_validation_unchanged(range_max):
    probs = np.array([0.1, 0.7, 0.2])
    bars = fig.probability_bars(probs, ["red", "green", "blue"], "Softmax", range_max=range_max)
    raw = bars.to_dict()
    checked = go.Figure(raw).to_dict()  # the validating constructor: raises on any unknown or ill-typed property
    assert checked["data"] == raw["data"]
    assert {k: v for k, v in checked["layout"].items() if k != "template"} == {
        k: v for k, v in raw["layout"].items() if k != "template"
    }


def test_bars_mark_the_top_class_and_show_each_value():
    bars = fig.probability_bars([0.2, 0.5, 0.3], ["a", "b", "c"], colors=None)
    trace = bars.to_dict()["data"][0]
    assert trace["text"] == ["0.200", "0.500", "0.300"]
    assert trace["marker"]["color"][1] == fig.common.ACCENT
    assert trace["marker"]["line"]["color"] == ["rgba(0,0,0,0)", "black", "rgba(0,0,0,0)"]
    assert bars.layout.xaxis.range == (0.0, 1.0)


def test_bars_range_grows_for_values_outside_zero_to_one():
    bars = fig.probability_bars([-0.5, 1.5], ["a", "b"], range_max=1.0, highlight=0)
    assert bars.layout.xaxis.range == (-0.5, 1.5)
    assert bars.to_dict()["data"][0]["marker"]["line"]["color"][0] == "black"
