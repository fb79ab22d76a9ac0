"""Deck commitments: a salted Merkle tree over one hand's shuffled deck."""

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from functools import lru_cache

import attrs

__all__ = [
    "DECK_SIZE",
    "RANKS",
    "SECRET_BYTES",
    "STANDARD_DECK",
    "SUITS",
    "CardProof",
    "DeckCommitment",
    "card_salt",
    "deck_problem",
    "secret_problem",
    "verify_card",
]

RANKS = "23456789TJQKA"
SUITS = "cdhs"
STANDARD_DECK: tuple[str, ...] = tuple(rank + suit for rank in RANKS for suit in SUITS)
DECK_SIZE = 52
SECRET_BYTES = 32

SALT_BYTES = 16
TREE_HEIGHT = 6  # levels of nodes above the leaves
TREE_WIDTH = 1 << TREE_HEIGHT  # 64 leaves: the 52 cards, then 12 pads

_SALT_LABEL = b"pokerd-salt"
_LEAF_TAG = b"\x00"
_NODE_TAG = b"\x01"
_PAD_TAG = b"\x02"
_HEX_DIGITS = frozenset("0123456789abcdef")
_CARDS = frozenset(STANDARD_DECK)
_sha256 = hashlib.sha256

_PADS: tuple[bytes, ...] = tuple(
    _sha256(_PAD_TAG + bytes([i])).digest() for i in range(DECK_SIZE, TREE_WIDTH)
)


def deck_problem(deck: Sequence[str]) -> str | None:
    """None if `deck` is a permutation of STANDARD_DECK, else what is wrong."""
    if len(deck) != DECK_SIZE:
        return f"deck has {len(deck)} cards, expected {DECK_SIZE}"
    seen: set[str] = set()
    for card in deck:
        if card not in _CARDS:
            return f'unknown card "{card}"'
        if card in seen:
            return f'duplicate card "{card}"'
        seen.add(card)
    return None


def secret_problem(secret: str) -> str | None:
    """None if `secret` is 64 lowercase hex characters, else what is wrong."""
    if not isinstance(secret, str):
        return f"secret must be a string, not {type(secret).__name__}"
    if len(secret) != 2 * SECRET_BYTES:
        return f"secret has {len(secret)} characters, expected {2 * SECRET_BYTES}"
    if not _is_hex(secret):
        return "secret must be lowercase hex (0-9, a-f)"
    return None


@attrs.frozen
class CardProof:
    """Evidence that `card` sat at `position` in the deck behind a root."""

    position: int  # index in the deck, 0..51
    card: str  # e.g. "Ah"
    salt: str  # 32 lowercase hex chars (16 bytes)
    path: tuple[str, ...]  # sibling hashes, leaf level first, root excluded


class DeckCommitment:
    """The Merkle tree over one hand's deck; built once, asked for the root and
    proofs."""

    __slots__ = ("_deck", "_levels", "_salts")

    def __init__(self, deck: Sequence[str], secret: str) -> None:
        """Build the tree (52 HMACs, 115 hashes).

        Assumes validated input: `deck_problem(deck)` and `secret_problem(secret)`
        must both be None.
        """
        self._deck: tuple[str, ...] = tuple(deck)
        self._salts: tuple[bytes, ...] = _salts(bytes.fromhex(secret))
        level = [
            _leaf(i, card, salt)
            for i, (card, salt) in enumerate(zip(self._deck, self._salts, strict=True))
        ]
        level.extend(_PADS)
        levels = [tuple(level)]
        while len(level) > 1:
            level = [
                _sha256(_NODE_TAG + level[i] + level[i + 1]).digest()
                for i in range(0, len(level), 2)
            ]
            levels.append(tuple(level))
        self._levels: tuple[tuple[bytes, ...], ...] = tuple(levels)

    @property
    def root(self) -> str:
        """The commitment published at hand start: 64 lowercase hex chars."""
        return self._levels[-1][0].hex()

    def proof(self, position: int) -> CardProof:
        """The proof for the card at `position` (0..51)."""
        if not 0 <= position < DECK_SIZE:
            raise ValueError(f"position {position} is outside 0..{DECK_SIZE - 1}")
        path = tuple(
            nodes[(position >> k) ^ 1].hex()
            for k, nodes in enumerate(self._levels[:-1])
        )
        return CardProof(
            position=position,
            card=self._deck[position],
            salt=self._salts[position].hex(),
            path=path,
        )

    def proofs(self, positions: Iterable[int]) -> tuple[CardProof, ...]:
        """The proofs for several positions, in the order given."""
        return tuple(self.proof(position) for position in positions)


@lru_cache(maxsize=256)
def commitment_of(deck: tuple[str, ...], secret: str) -> DeckCommitment:
    """The commitment tree for a hand's deck, built once however often asked.

    Dealing a hand asks for the root, then for proofs as cards appear, and
    redacting the deal asks for each seat's: one tree serves them all.
    """
    return DeckCommitment(deck, secret)


def card_salt(secret: str, position: int) -> str:
    """The salt (32 lowercase hex chars) hiding the card at `position`."""
    if not 0 <= position < DECK_SIZE:
        raise ValueError(f"position {position} is outside 0..{DECK_SIZE - 1}")
    msg = _SALT_LABEL + bytes([position])
    return hmac.digest(bytes.fromhex(secret), msg, _sha256)[:SALT_BYTES].hex()


def verify_card(root: str, proof: CardProof) -> bool:
    """True iff `proof` shows that `proof.card` sat at `proof.position` in the
    deck committed to by `root`. Malformed input gives False, never an error."""
    position = proof.position
    card = proof.card
    path = proof.path
    if (
        not _is_hex_of(root, 32)
        or type(position) is not int
        or not 0 <= position < DECK_SIZE
        or not isinstance(card, str)
        or card not in _CARDS
        or not _is_hex_of(proof.salt, SALT_BYTES)
        or not isinstance(path, tuple | list)
        or len(path) != TREE_HEIGHT
        or not all(_is_hex_of(sibling, 32) for sibling in path)
    ):
        return False
    node = _leaf(position, card, bytes.fromhex(proof.salt))
    for k, sibling_hex in enumerate(path):
        sibling = bytes.fromhex(sibling_hex)
        if (position >> k) & 1:
            node = _sha256(_NODE_TAG + sibling + node).digest()
        else:
            node = _sha256(_NODE_TAG + node + sibling).digest()
    return hmac.compare_digest(node, bytes.fromhex(root))


def _salts(key: bytes) -> tuple[bytes, ...]:
    base = hmac.new(key, digestmod=_sha256)
    salts = []
    for i in range(DECK_SIZE):
        mac = base.copy()
        mac.update(_SALT_LABEL + bytes([i]))
        salts.append(mac.digest()[:SALT_BYTES])
    return tuple(salts)


def _leaf(position: int, card: str, salt: bytes) -> bytes:
    return _sha256(_LEAF_TAG + bytes([position]) + card.encode("ascii") + salt).digest()


def _is_hex(text: str) -> bool:
    return _HEX_DIGITS.issuperset(text)


def _is_hex_of(value: object, size: int) -> bool:
    """`value` is a str of exactly `size` bytes in lowercase hex."""
    return isinstance(value, str) and len(value) == 2 * size and _is_hex(value)
