from decimal import Decimal

import pytest

from config.money import fen_from_yuan, format_fen, yuan_from_fen


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (0, "¥0.00"),
        (5, "¥0.05"),
        (3990, "¥39.90"),
        (12800, "¥128.00"),
        (123456789, "¥1,234,567.89"),
        (-3990, "-¥39.90"),
    ],
)
def test_format_fen(fen, shown):
    assert format_fen(fen) == shown


@pytest.mark.parametrize(
    ("yuan", "fen"), [("39.90", 3990), ("39.9", 3990), ("128", 12800), ("0.01", 1), ("39.900", 3990)]
)
def test_fen_from_yuan_is_exact(yuan, fen):
    assert fen_from_yuan(Decimal(yuan)) == fen


def test_fen_from_yuan_refuses_a_fraction_of_a_fen():
    with pytest.raises(ValueError, match="not a whole number of fen"):
        fen_from_yuan(Decimal("39.999"))


def test_yuan_from_fen_keeps_two_places():
    assert str(yuan_from_fen(3990)) == "39.90"
