"""Sweep axes (lifecycle_opt/plan/axes.py): ranges and lists as a user writes them, and the
grid's size refused before anything is built."""
import numpy as np
import pytest

from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.plan.axes import axes_of, parse_axes


def test_ranges_and_lists():
    lin, log, listed = parse_axes(["target.loss=2.0..2.4:lin:5", "inference.tokens=1e9..1e13:log:5",
                                   "limits.max_params=7B,70B"])
    assert list(lin.values) == pytest.approx([2.0, 2.1, 2.2, 2.3, 2.4], rel=1e-15)
    assert list(log.values) == pytest.approx([1e9, 1e10, 1e11, 1e12, 1e13], rel=1e-12)
    assert listed.key == "limits.max_params" and len(listed.values) == 2


def test_a_mapping_with_numpy_values():
    (axis,) = axes_of({"inference.tokens": np.array([1e9, 1e10])})
    assert axis.values.dtype == float and list(axis.values) == [1e9, 1e10]


def test_too_many_points_refused_before_building():
    with pytest.raises(ScenarioError, match="points"):
        parse_axes(["target.loss=2..3:lin:100000", "inference.tokens=1e9..1e13:log:100000"])
