"""Tests for the deck commitment (pokerd.engine.deck) and its documented example."""

import hashlib
import itertools
import re
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pokerd.engine.deck import (
    DECK_SIZE,
    RANKS,
    SECRET_BYTES,
    STANDARD_DECK,
    SUITS,
    CardProof,
    DeckCommitment,
    card_salt,
    deck_problem,
    secret_problem,
    verify_card,
)

FAIRNESS_DOC = Path(__file__).resolve().parent.parent / "docs" / "fairness.md"
ZERO_SECRET = "00" * SECRET_BYTES
OTHER_SECRET = "ab" * SECRET_BYTES
HEX64 = re.compile(r"[0-9a-f]{64}")

secrets = st.binary(min_size=SECRET_BYTES, max_size=SECRET_BYTES).map(bytes.hex)
decks = st.permutations(STANDARD_DECK)


@pytest.fixture(scope="module")
def commitment() -> DeckCommitment:
    return DeckCommitment(STANDARD_DECK, ZERO_SECRET)


def flip_hex(text: str) -> str:
    """`text` with its first hex digit changed."""
    return ("1" if text[0] == "0" else "0") + text[1:]


# The standard deck and input checks


def test_the_standard_deck_has_52_distinct_cards_in_rank_then_suit_order() -> None:
    assert len(STANDARD_DECK) == DECK_SIZE == 52
    assert len(set(STANDARD_DECK)) == 52
    assert STANDARD_DECK[:5] == ("2c", "2d", "2h", "2s", "3c")
    assert STANDARD_DECK[-1] == "As"
    assert all(card[0] in RANKS and card[1] in SUITS for card in STANDARD_DECK)


def test_any_permutation_of_the_standard_deck_has_no_problem() -> None:
    assert deck_problem(STANDARD_DECK) is None
    assert deck_problem(list(reversed(STANDARD_DECK))) is None


@pytest.mark.parametrize(
    "deck",
    [(), STANDARD_DECK[:51], (*STANDARD_DECK, "2c")],
    ids=["empty", "51 cards", "53 cards"],
)
def test_deck_problem_reports_a_deck_of_the_wrong_length(deck: tuple[str, ...]) -> None:
    problem = deck_problem(deck)
    assert problem is not None
    assert str(len(deck)) in problem


@pytest.mark.parametrize("card", ["Xx", "1c", "AS", "ah", "10h", "", "Ah "])
def test_deck_problem_names_an_unknown_card(card: str) -> None:
    problem = deck_problem((card, *STANDARD_DECK[1:]))
    assert problem is not None
    assert "unknown" in problem
    assert f'"{card}"' in problem


def test_deck_problem_names_a_duplicate_card() -> None:
    deck = ("Ah", *STANDARD_DECK[1:])  # "Ah" twice, "2c" missing
    problem = deck_problem(deck)
    assert problem is not None
    assert "duplicate" in problem
    assert '"Ah"' in problem


def test_a_secret_of_64_lowercase_hex_chars_has_no_problem() -> None:
    assert secret_problem(ZERO_SECRET) is None
    assert secret_problem("0123456789abcdef" * 4) is None


@pytest.mark.parametrize(
    "secret",
    ["", "00" * 31, "00" * 33, "AB" * 32, "zz" * 32, " " + "0" * 63, "0" * 63 + "\n"],
)
def test_secret_problem_rejects_anything_but_64_lowercase_hex_chars(
    secret: str,
) -> None:
    assert secret_problem(secret) is not None


# Roots and proofs


def test_the_root_is_64_lowercase_hex_chars(commitment: DeckCommitment) -> None:
    assert HEX64.fullmatch(commitment.root)


def test_every_positions_proof_verifies_against_the_root(
    commitment: DeckCommitment,
) -> None:
    for position in range(DECK_SIZE):
        proof = commitment.proof(position)
        assert proof.position == position
        assert proof.card == STANDARD_DECK[position]
        assert proof.salt == card_salt(ZERO_SECRET, position)
        assert len(proof.path) == 6
        assert all(HEX64.fullmatch(sibling) for sibling in proof.path)
        assert verify_card(commitment.root, proof)


def test_proofs_returns_one_proof_per_position_in_the_order_asked(
    commitment: DeckCommitment,
) -> None:
    positions = [51, 0, 7, 7]
    proofs = commitment.proofs(iter(positions))
    assert proofs == tuple(commitment.proof(p) for p in positions)


@pytest.mark.parametrize("position", [-1, 52, 64, 255])
def test_asking_for_a_proof_outside_the_deck_is_an_error(
    commitment: DeckCommitment, position: int
) -> None:
    with pytest.raises(ValueError, match="outside"):
        commitment.proof(position)


def test_a_proof_with_a_changed_card_fails(commitment: DeckCommitment) -> None:
    proof = commitment.proof(10)
    for card in STANDARD_DECK:
        if card != proof.card:
            assert not verify_card(commitment.root, attrs.evolve(proof, card=card))


def test_a_proof_with_a_changed_salt_fails(commitment: DeckCommitment) -> None:
    proof = commitment.proof(10)
    assert not verify_card(
        commitment.root, attrs.evolve(proof, salt=flip_hex(proof.salt))
    )
    other_salt = card_salt(ZERO_SECRET, 11)
    assert not verify_card(commitment.root, attrs.evolve(proof, salt=other_salt))


def test_a_proof_with_a_changed_position_fails(commitment: DeckCommitment) -> None:
    proof = commitment.proof(10)
    for position in range(DECK_SIZE):
        if position != proof.position:
            changed = attrs.evolve(proof, position=position)
            assert not verify_card(commitment.root, changed)


@pytest.mark.parametrize("level", range(6))
def test_a_proof_with_a_tampered_path_fails(
    commitment: DeckCommitment, level: int
) -> None:
    proof = commitment.proof(10)
    path = list(proof.path)
    path[level] = flip_hex(path[level])
    assert not verify_card(commitment.root, attrs.evolve(proof, path=tuple(path)))


def test_a_proof_with_its_path_reordered_fails(commitment: DeckCommitment) -> None:
    proof = commitment.proof(10)
    reordered = attrs.evolve(proof, path=proof.path[::-1])
    assert not verify_card(commitment.root, reordered)


def test_a_proof_fails_against_a_different_root(commitment: DeckCommitment) -> None:
    proof = commitment.proof(10)
    assert not verify_card(flip_hex(commitment.root), proof)
    other = DeckCommitment(STANDARD_DECK, OTHER_SECRET)
    assert not verify_card(other.root, proof)


def test_swapping_the_cards_of_any_two_proofs_makes_both_fail(
    commitment: DeckCommitment,
) -> None:
    proofs = commitment.proofs(range(DECK_SIZE))
    for a, b in itertools.combinations(proofs, 2):
        assert not verify_card(commitment.root, attrs.evolve(a, card=b.card))
        assert not verify_card(commitment.root, attrs.evolve(b, card=a.card))


def test_a_different_deck_gives_a_different_root() -> None:
    swapped = ("2d", "2c", *STANDARD_DECK[2:])
    assert (
        DeckCommitment(swapped, ZERO_SECRET).root
        != DeckCommitment(STANDARD_DECK, ZERO_SECRET).root
    )


def test_a_different_secret_gives_a_different_root() -> None:
    assert (
        DeckCommitment(STANDARD_DECK, OTHER_SECRET).root
        != DeckCommitment(STANDARD_DECK, ZERO_SECRET).root
    )


def test_the_same_deck_and_secret_always_give_the_same_root() -> None:
    deck = list(reversed(STANDARD_DECK))
    assert DeckCommitment(deck, OTHER_SECRET).root == (
        DeckCommitment(tuple(deck), OTHER_SECRET).root
    )


# Salts


def test_salts_are_32_lowercase_hex_chars_and_differ_per_position() -> None:
    salts = [card_salt(ZERO_SECRET, position) for position in range(DECK_SIZE)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", salt) for salt in salts)
    assert len(set(salts)) == DECK_SIZE


def test_salts_differ_per_secret() -> None:
    for position in range(DECK_SIZE):
        assert card_salt(ZERO_SECRET, position) != card_salt(OTHER_SECRET, position)


def test_a_salt_depends_only_on_secret_and_position_not_on_the_card() -> None:
    reversed_deck = tuple(reversed(STANDARD_DECK))
    forward = DeckCommitment(STANDARD_DECK, ZERO_SECRET)
    backward = DeckCommitment(reversed_deck, ZERO_SECRET)
    for position in range(DECK_SIZE):
        forward_proof = forward.proof(position)
        backward_proof = backward.proof(position)
        assert forward_proof.card != backward_proof.card
        assert forward_proof.salt == backward_proof.salt


@pytest.mark.parametrize("position", [-1, 52, 256])
def test_card_salt_rejects_a_position_outside_the_deck(position: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        card_salt(ZERO_SECRET, position)


# Malformed proofs


def malformed_proofs(proof: CardProof) -> list[CardProof]:
    bad_hex = "g" + proof.salt[1:]
    return [
        attrs.evolve(proof, position=-1),
        attrs.evolve(proof, position=52),
        attrs.evolve(proof, position=10**30),
        attrs.evolve(proof, position=True),  # equal to 1, but not a position
        attrs.evolve(proof, position="1"),  # type: ignore[arg-type]
        attrs.evolve(proof, position=1.0),  # type: ignore[arg-type]
        attrs.evolve(proof, card=""),
        attrs.evolve(proof, card="A"),
        attrs.evolve(proof, card="Ahh"),
        attrs.evolve(proof, card="2\u00e7"),
        attrs.evolve(proof, card="\u2660A"),
        attrs.evolve(proof, card=b"2c"),  # type: ignore[arg-type]
        attrs.evolve(proof, card=None),  # type: ignore[arg-type]
        attrs.evolve(proof, salt=bad_hex),
        attrs.evolve(proof, salt=proof.salt.upper()),
        attrs.evolve(proof, salt=proof.salt[:-2]),
        attrs.evolve(proof, salt=proof.salt + "00"),
        attrs.evolve(proof, salt=proof.salt[:2] + " " + proof.salt[3:]),
        attrs.evolve(proof, salt=bytes.fromhex(proof.salt)),  # type: ignore[arg-type]
        attrs.evolve(proof, path=proof.path[:5]),
        attrs.evolve(proof, path=(*proof.path, proof.path[0])),
        attrs.evolve(proof, path=()),
        attrs.evolve(proof, path=(proof.path[0][:-1], *proof.path[1:])),
        attrs.evolve(proof, path=("x" * 64, *proof.path[1:])),
        attrs.evolve(proof, path=(proof.path[0].upper(), *proof.path[1:])),
        attrs.evolve(proof, path=(None, *proof.path[1:])),  # type: ignore[arg-type]
        attrs.evolve(proof, path="".join(proof.path)),  # type: ignore[arg-type]
        attrs.evolve(proof, path=None),  # type: ignore[arg-type]
    ]


def test_verify_card_returns_false_for_malformed_proofs(
    commitment: DeckCommitment,
) -> None:
    proof = commitment.proof(1)
    assert verify_card(commitment.root, proof)
    for malformed in malformed_proofs(proof):
        assert verify_card(commitment.root, malformed) is False, malformed


@pytest.mark.parametrize(
    "root",
    ["", "00", "G" * 64, " " * 64, None, 7],
)
def test_verify_card_returns_false_for_a_malformed_root(
    commitment: DeckCommitment, root: object
) -> None:
    assert verify_card(root, commitment.proof(0)) is False  # type: ignore[arg-type]


def test_verify_card_rejects_an_uppercase_root(commitment: DeckCommitment) -> None:
    assert verify_card(commitment.root.upper(), commitment.proof(0)) is False


# Properties over every shuffle and secret


@given(deck=decks, secret=secrets)
def test_for_any_shuffle_and_secret_all_52_proofs_verify(
    deck: list[str], secret: str
) -> None:
    commitment = DeckCommitment(deck, secret)
    assert HEX64.fullmatch(commitment.root)
    for proof in commitment.proofs(range(DECK_SIZE)):
        assert proof.card == deck[proof.position]
        assert proof.salt == card_salt(secret, proof.position)
        assert verify_card(commitment.root, proof)


@given(deck=decks, secret=secrets, data=st.data())
def test_for_any_shuffle_and_secret_swapping_two_proofs_cards_fails(
    deck: list[str], secret: str, data: st.DataObject
) -> None:
    commitment = DeckCommitment(deck, secret)
    a, b = data.draw(
        st.lists(st.integers(0, DECK_SIZE - 1), min_size=2, max_size=2, unique=True),
        label="positions",
    )
    proof_a, proof_b = commitment.proof(a), commitment.proof(b)
    assert not verify_card(commitment.root, attrs.evolve(proof_a, card=proof_b.card))
    assert not verify_card(commitment.root, attrs.evolve(proof_b, card=proof_a.card))


# The worked example in docs/fairness.md


def worked_example() -> dict[str, str]:
    """The `key: value` lines of the fenced block under "## Worked example"."""
    text = FAIRNESS_DOC.read_text(encoding="utf-8")
    section = text.split("## Worked example", 1)[1]
    block = re.search(r"^```[a-z]*\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert block is not None, "no fenced block under '## Worked example'"
    example = {}
    for line in block.group(1).splitlines():
        key, value = line.split(":", 1)
        example[key.strip()] = value.strip()
    return example


def test_the_worked_example_in_the_fairness_doc_is_what_the_code_computes() -> None:
    example = worked_example()
    assert example["secret"] == ZERO_SECRET
    commitment = DeckCommitment(STANDARD_DECK, example["secret"])
    assert example["root"] == commitment.root
    assert example["salt"] == card_salt(example["secret"], 0)
    assert example["salt"] == commitment.proof(0).salt


def test_the_worked_example_proof_of_position_0_is_complete_and_verifies() -> None:
    example = worked_example()
    proof = CardProof(
        position=int(example["position"]),
        card=example["card"],
        salt=example["salt"],
        path=tuple(example[f"path[{k}]"] for k in range(6)),
    )
    commitment = DeckCommitment(STANDARD_DECK, example["secret"])
    assert proof == commitment.proof(0)
    assert verify_card(example["root"], proof)
    leaf = hashlib.sha256(
        b"\x00" + bytes([0]) + b"2c" + bytes.fromhex(example["salt"])
    ).hexdigest()
    assert example["leaf"] == leaf
