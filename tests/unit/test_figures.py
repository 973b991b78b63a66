"""The live pages' bar charts are built without plotly's validation (for speed): the same dicts must pass it."""

import numpy as np
import plotly.graph_objects as go
import pytest

from core import figures as fig
from core.figures import common as common_figures


@pytest.mark.parametrize("range_max", [1.0, None])
def test_unvalidated_bars_pass_plotlys_validation_unchanged(range_max):
    probs = np.array([0.1, 0.7, 0.2])
    bars = common_figures.probability_bars(probs, ["red", "green", "blue"], "Softmax", range_max=range_max)
    raw = bars.to_dict()
    checked = go.Figure(raw).to_dict()  # the validating constructor: raises on any unknown or ill-typed property
    assert checked["data"] == raw["data"]
    assert {k: v for k, v in checked["layout"].items() if k != "template"} == {
        k: v for k, v in raw["layout"].items() if k != "template"
    }


def test_bars_mark_the_top_class_and_show_each_value():
    bars = common_figures.probability_bars([0.2, 0.5, 0.3], ["a", "b", "c"], colors=None)
    trace = bars.to_dict()["data"][0]
    assert trace["text"] == ["0.200", "0.500", "0.300"]
    assert trace["marker"]["color"][1] == fig.common.ACCENT
    assert trace["marker"]["line"]["color"] == ["rgba(0,0,0,0)", "black", "rgba(0,0,0,0)"]
    assert bars.layout.xaxis.range == (0.0, 1.0)


def test_bars_range_grows_for_values_outside_zero_to_one():
    bars = common_figures.probability_bars([-0.5, 1.5], ["a", "b"], range_max=1.0, highlight=0)
    assert bars.layout.xaxis.range == (-0.5, 1.5)
    assert bars.to_dict()["data"][0]["marker"]["line"]["color"][0] == "black"


def test_side_by_side_bars_are_one_valid_figure_with_a_panel_each():
    labels = ["red", "green", "blue"]
    panels = [("softmax", [0.1, 0.7, 0.2], 1.0), ("by sum", None, None), ("T=2", [0.3, 0.4, 0.3], 1.0)]
    figure = common_figures.side_by_side_bars(panels, labels)
    raw = figure.to_dict()
    go.Figure(raw)  # the validating constructor accepts the same dicts
    assert [t["xaxis"] for t in raw["data"]] == ["x", "x3"]  # the empty panel (None) draws no bars
    assert [a["text"] for a in raw["layout"]["annotations"]] == ["softmax", "by sum", "T=2"]
    domains = [raw["layout"][k]["domain"] for k in ("xaxis", "xaxis2", "xaxis3")]
    assert domains[0][0] == 0.0 and domains[-1][1] == pytest.approx(1.0)
    assert all(a[1] < b[0] for a, b in zip(domains, domains[1:]))  # side by side, not overlapping
    assert raw["layout"]["yaxis"]["showticklabels"] and not raw["layout"]["yaxis3"]["showticklabels"]
    assert raw["data"][0]["text"] == ["0.100", "0.700", "0.200"]
