"""Human quantities at the edges: what each parser accepts, what it refuses, and that the
printed form reads back."""
import pytest

from lifecycle_opt.model.constants import DAYS_PER_MONTH, SECONDS_PER_DAY
from lifecycle_opt.model.units import (format_count, parse_bytes, parse_count, parse_duration, parse_money,
                                       parse_rate)


@pytest.mark.parametrize("text, value", [("70B", 70e9), ("1.4T", 1.4e12), ("500 million", 5e8),
                                         ("2_000", 2000.0), ("1,500", 1500.0), (3e9, 3e9)])
def test_counts(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("bad", ["70X", "many", "", True, [1]])
def test_a_count_that_is_not_one_names_what_was_expected(bad):
    with pytest.raises(ValueError, match="a count such as 7e10"):
        parse_count(bad)


def test_an_infinite_count_is_refused():
    with pytest.raises(ValueError, match="a finite count"):
        parse_count(float("inf"))


def test_printed_counts_read_back():
    for x in (7e10, 1.4e12, 2.418e10, 6.7e9):
        assert parse_count(format_count(x)) == pytest.approx(x, rel=1e-3)


def test_money_durations_memory_and_rates():
    assert parse_money("-$2.5M") == -2.5e6
    # a month is a twelfth of a Julian year (model/constants.py)
    assert parse_duration("6 months") == pytest.approx(6 * DAYS_PER_MONTH * SECONDS_PER_DAY, rel=1e-15)
    assert parse_bytes("1.5 TiB") == 1.5 * 2 ** 40
    assert parse_rate("12.5 %") == 0.125
    with pytest.raises(ValueError, match="a fraction such as 0.08"):
        parse_rate("12.5 percent")
