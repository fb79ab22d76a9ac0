"""Names for a hand PokerKit evaluated: "Flush, king high", "Two pair, aces and tens".

PokerKit decides what a hand is (its label) and which five cards make it;
this module only puts that into words, from the label and the five cards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

RANK_ORDER = "23456789TJQKA"
RANK_NAMES = {
    "2": ("two", "twos"),
    "3": ("three", "threes"),
    "4": ("four", "fours"),
    "5": ("five", "fives"),
    "6": ("six", "sixes"),
    "7": ("seven", "sevens"),
    "8": ("eight", "eights"),
    "9": ("nine", "nines"),
    "T": ("ten", "tens"),
    "J": ("jack", "jacks"),
    "Q": ("queen", "queens"),
    "K": ("king", "kings"),
    "A": ("ace", "aces"),
}


def _one(rank: str) -> str:
    return RANK_NAMES[rank][0]


def _many(rank: str) -> str:
    return RANK_NAMES[rank][1]


def ranks_by_weight(cards: Sequence[str]) -> list[str]:
    """The ranks of `cards`, the most repeated first, higher first among equals."""
    counts = Counter(card[0] for card in cards)
    return sorted(counts, key=lambda rank: (-counts[rank], -RANK_ORDER.index(rank)))


def straight_high(cards: Sequence[str]) -> str:
    """The top rank of a straight (five, for the wheel A-2-3-4-5)."""
    ranks = {card[0] for card in cards}
    return "5" if ranks == {"A", "2", "3", "4", "5"} else ranks_by_weight(cards)[0]


def hand_name(label: str, cards: Sequence[str]) -> str:
    """Words for a hand of PokerKit's `label` ("Flush") made of the five `cards`."""
    ranks = ranks_by_weight(cards)
    match label:
        case "High card":
            return f"High card, {_one(ranks[0])}"
        case "One pair":
            return f"Pair of {_many(ranks[0])}"
        case "Two pair":
            return f"Two pair, {_many(ranks[0])} and {_many(ranks[1])}"
        case "Three of a kind":
            return f"Three of a kind, {_many(ranks[0])}"
        case "Straight":
            return f"Straight, {_one(straight_high(cards))} high"
        case "Flush":
            return f"Flush, {_one(ranks[0])} high"
        case "Full house":
            return f"Full house, {_many(ranks[0])} full of {_many(ranks[1])}"
        case "Four of a kind":
            return f"Four of a kind, {_many(ranks[0])}"
        case "Straight flush":
            high = straight_high(cards)
            return (
                "Royal flush" if high == "A" else f"Straight flush, {_one(high)} high"
            )
        case _:
            return label
