"""A hand PokerKit evaluated, put into words the way players say it."""

from __future__ import annotations

import pytest

from pokerd.engine.hand_names import hand_name
from pokerd.engine.poker import best_hand


def cards(text: str) -> tuple[str, ...]:
    return tuple(text[i : i + 2] for i in range(0, len(text), 2))


@pytest.mark.parametrize(
    ("hole", "board", "name"),
    [
        ("2c7d", "AhKd9c5s4h", "High card, ace"),
        ("6c6d", "AhKd9c5s4h", "Pair of sixes"),
        ("AcTc", "AhTd7s4s2s", "Two pair, aces and tens"),
        ("7c7d", "7hKc2d9s3h", "Three of a kind, sevens"),
        ("AsTd", "5h4h3s4c2c", "Straight, five high"),
        ("9c8d", "7h6c5dAs2h", "Straight, nine high"),
        ("KsTs", "2s7s9sAhAc", "Flush, king high"),
        ("7c7d", "7h2c2d9s3h", "Full house, sevens full of twos"),
        ("6c6d", "Ah6h6s5s4h", "Four of a kind, sixes"),
        ("9s8s", "7s6s5sAh2h", "Straight flush, nine high"),
        ("AsKs", "QsJsTs2h3h", "Royal flush"),
    ],
)
def test_each_kind_of_hand_is_named_from_pokerkits_evaluation(
    hole: str, board: str, name: str
) -> None:
    label, best = best_hand(cards(hole), cards(board))

    assert hand_name(label, best) == name
    assert len(best) == 5 and set(best) <= set(cards(hole + board))
