"""PHH hand histories (PokerKit's TOML format): played through pokerd, exported.

PHH (https://github.com/uoftcprg/phh-std) describes one hand per `.phh` file,
or several as the tables of a `.phhs` bundle. Two directions live here:

- Import and play (`pokerd phh play`). A hand's fields are parsed into a
  `PhhHand`, turned into pokerd commands (a table made for the hand, its
  players seated so pokerd's first-hand seating puts them at the file's
  positions, a deck that deals the file's cards, the players' actions as
  `Act`), and played through pokerd's own `handle`. PokerKit never reads the
  file: the point is to check pokerd's rules against hands recorded elsewhere,
  so the file's result is compared with pokerd's, not with PokerKit's parser's.
- Export. `hand_phh` writes a pokerd hand as PHH text that PokerKit's
  `HandHistory` loads and replays to the same stacks, hiding the hole cards a
  viewer may not see.

The file's player order is PokerKit's position order (index 0 the small
blind, the last the button; heads-up index 0 is the big blind), which is also
the order of pokerd's `HandStarted.seats`, so positions map one to one.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal, TextIO

import attrs

from pokerd.engine import (
    STANDARD_DECK,
    Act,
    ActionTaken,
    BoardDealt,
    CreateTable,
    Event,
    HandState,
    HoleCardsShown,
    RuleError,
    SitDown,
    StartHand,
    TableConfig,
    TableState,
    config_problem,
    handle,
    initial_state,
    legal_actions,
)
from pokerd.engine.config import MAX_SEATS
from pokerd.engine.deck import RANKS, SECRET_BYTES, SUITS
from pokerd.engine.poker import hole_position
from pokerd.engine.views import hole_cards

__all__ = [
    "Outcome",
    "PhhHand",
    "hand_phh",
    "parse_hand",
    "play_command",
    "play_fields",
    "play_file",
    "play_hand",
    "read_hands",
    "seat_for",
]

VARIANT = "NT"
"""No-limit Texas hold'em, the only PHH variant pokerd plays."""
SECRET = "00" * SECRET_BYTES
"""The commitment secret of the hands of files: nothing is hidden in them."""
NOW_MS = 0
"""A file's hand is played without a clock: every command has the same time."""
MAX_BOARD_CARDS = 5


# --- Outcomes ---------------------------------------------------------------


class OutOfScopeError(Exception):
    """The hand is valid PHH but outside what pokerd's table can play."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreadableError(Exception):
    """The file or hand is not PHH that can be read."""


class MismatchError(Exception):
    """pokerd played the hand differently from what the file records."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@attrs.frozen(kw_only=True)
class Outcome:
    """What playing one hand came to: ok, skipped (out of scope) or error."""

    status: Literal["ok", "skipped", "error"]
    finishing_stacks: tuple[int, ...] = ()
    reason: str = ""
    code: str = ""
    message: str = ""
    played: HandState | None = attrs.field(default=None, eq=False, repr=False)
    """The hand as pokerd played it, when it was played to the end."""

    @classmethod
    def error(cls, code: str, message: str) -> Outcome:
        return cls(status="error", code=code, message=message)

    def record(self, file: str, hand: int | None) -> dict[str, object]:
        """The JSON line printed for this hand (hand is None for a whole file)."""
        record: dict[str, object] = {"file": file, "hand": hand, "status": self.status}
        if self.status == "ok":
            record["finishing_stacks"] = list(self.finishing_stacks)
        elif self.status == "skipped":
            record["reason"] = self.reason
        else:
            record["code"] = self.code
            record["message"] = self.message
        return record


# --- Parsing: PHH fields into a PhhHand -------------------------------------


@attrs.frozen
class Move:
    """A player's betting action: fold, check or call, or bet or raise to."""

    text: str
    player: int
    verb: Literal["f", "cc", "cbr"]
    amount: int | None = None


@attrs.frozen
class Board:
    """The dealer dealing board cards."""

    text: str
    cards: tuple[str, ...]


Step = Move | Board


@attrs.frozen(kw_only=True)
class PhhHand:
    """One PHH hand, checked and in integers, in the file's player order."""

    antes: tuple[int, ...]
    blinds_or_straddles: tuple[int, ...]
    min_bet: int
    starting_stacks: tuple[int, ...]
    ante_trimming: bool
    names: tuple[str, ...]
    hole_cards: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    """Betting and board dealing in file order; showdown actions are left out,
    as pokerd decides who shows."""
    finishing_stacks: tuple[int, ...] | None

    @property
    def players(self) -> int:
        return len(self.starting_stacks)

    @property
    def board(self) -> tuple[str, ...]:
        return tuple(
            card
            for step in self.steps
            if isinstance(step, Board)
            for card in step.cards
        )


_PLAYER = re.compile(r"p([1-9][0-9]*)")


def read_hands(path: str) -> list[object]:
    """The hands of a `.phh` file (one) or `.phhs` bundle (its tables, in order).

    Floats are read as Decimal so that integral amounts written as floats
    (`3.0`) stay exact and anything else can be told apart and skipped.
    Raises UnreadableError.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        document = tomllib.loads(text, parse_float=Decimal)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UnreadableError(str(error)) from None
    if Path(path).suffix.lower() == ".phhs":
        return list(document.values())
    return [document]


def parse_hand(fields: object) -> PhhHand:
    """Check one hand's fields; raises OutOfScopeError or UnreadableError.

    The variant is checked first, so another game is skipped even when pokerd
    could not make sense of its other fields.
    """
    if not isinstance(fields, Mapping):
        raise UnreadableError("a hand must be a TOML table")
    variant = _field(fields, "variant")
    if not isinstance(variant, str):
        raise UnreadableError("variant must be a string")
    if variant != VARIANT:
        raise OutOfScopeError(
            f"variant {variant!r}: pokerd plays no-limit Texas hold'em (NT) only"
        )
    if fields.get("bring_in"):
        raise OutOfScopeError("bring-ins: pokerd's hold'em has blinds, not bring-ins")
    raw_stacks = _field(fields, "starting_stacks")
    if not isinstance(raw_stacks, list):
        raise UnreadableError("starting_stacks must be an array")
    players = len(raw_stacks)
    if players < 2:
        raise OutOfScopeError(f"{players} player(s): a hand needs two")
    if players > MAX_SEATS:
        raise OutOfScopeError(
            f"{players} players: a pokerd table seats {MAX_SEATS} at most"
        )
    stacks = _amounts("starting_stacks", raw_stacks, players)
    if min(stacks) <= 0:
        raise OutOfScopeError(
            "a starting stack is not positive: pokerd deals only players with chips"
        )
    antes = _amounts("antes", _field(fields, "antes"), players)
    blinds = _amounts(
        "blinds_or_straddles", _field(fields, "blinds_or_straddles"), players
    )
    min_bet = _amount("min_bet", _field(fields, "min_bet"))
    finishing = fields.get("finishing_stacks")
    trimming = fields.get("ante_trimming_status", False)
    if not isinstance(trimming, bool):
        raise UnreadableError("ante_trimming_status must be a boolean")
    actions = _field(fields, "actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise UnreadableError("actions must be an array of strings")
    holes: dict[int, tuple[str, str]] = {}
    steps: list[Step] = []
    for text in actions:
        _parse_action(text, players, holes, steps)
    missing = [f"p{i + 1}" for i in range(players) if i not in holes]
    if missing:
        raise OutOfScopeError(f"unknown hole cards: {', '.join(missing)} dealt none")
    hand = PhhHand(
        antes=antes,
        blinds_or_straddles=blinds,
        min_bet=min_bet,
        starting_stacks=stacks,
        ante_trimming=trimming,
        names=_names(fields.get("players"), players),
        hole_cards=tuple(holes[i] for i in range(players)),
        steps=tuple(steps),
        finishing_stacks=None
        if finishing is None
        else _amounts("finishing_stacks", finishing, players, pad=False),
    )
    if len(hand.board) > MAX_BOARD_CARDS:
        raise OutOfScopeError(
            f"{len(hand.board)} board cards: several boards or run-it-twice "
            "are not played by pokerd"
        )
    dealt = [card for pair in hand.hole_cards for card in pair] + list(hand.board)
    for card in dealt:
        if dealt.count(card) > 1:
            raise UnreadableError(f"card {card} is dealt twice")
    return hand


def _field(fields: Mapping[str, object], name: str) -> object:
    if name not in fields:
        raise UnreadableError(f"the required field {name!r} is missing")
    return fields[name]


def _amount(name: str, value: object) -> int:
    """A chip amount as an int: pokerd's chips are whole numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise UnreadableError(f"{name} must hold numbers, not {value!r}")
    if isinstance(value, float):  # TOML read without parse_float=Decimal
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise OutOfScopeError(
                f"{name} has an unknown amount ({value}): chips must be known"
            )
        if value != value.to_integral_value():
            raise OutOfScopeError(
                f"{name} has the non-integer amount {value}: pokerd's chips are whole"
            )
        value = int(value)
    if value < 0:
        raise UnreadableError(f"{name} has the negative amount {value}")
    return value


def _amounts(
    name: str, value: object, players: int, *, pad: bool = True
) -> tuple[int, ...]:
    """One amount per player. Like PokerKit, a single number stands for all and
    a short array is padded with zeros; extra entries must be zero."""
    if not isinstance(value, list):
        return (_amount(name, value),) * players
    amounts = [_amount(name, item) for item in value]
    if any(amounts[players:]):
        raise UnreadableError(
            f"{name} has {len(amounts)} entries for {players} players"
        )
    if len(amounts) < players and not pad:
        raise UnreadableError(
            f"{name} has {len(amounts)} entries for {players} players"
        )
    return tuple(amounts[:players]) + (0,) * (players - len(amounts))


def _cards(text: str, what: str) -> tuple[str, ...]:
    """Cards written back to back (`AcKd`). Unknown cards (`??`) are out of
    scope: pokerd deals real cards, and playing a hand needs every card it deals."""
    if len(text) % 2:
        raise UnreadableError(f"{text!r} is not a list of cards")
    cards = tuple(text[i : i + 2] for i in range(0, len(text), 2))
    for card in cards:
        if "?" in card:
            raise OutOfScopeError(f"unknown {what} ({text})")
        if card[0] not in RANKS or card[1] not in SUITS:
            raise UnreadableError(f"{card!r} is not a card")
    return cards


def _player(label: str, players: int) -> int:
    match = _PLAYER.fullmatch(label)
    if match is None or int(match[1]) > players:
        raise UnreadableError(f"{label!r} is not one of the {players} players")
    return int(match[1]) - 1


def _parse_action(
    text: str, players: int, holes: dict[int, tuple[str, str]], steps: list[Step]
) -> None:
    """Add one action to `holes` (hole dealing) or `steps`.

    `# ...` is commentary, and empty actions are no-ops (PHH allows both).
    """
    words = text.split("#", 1)[0].split()
    match words:
        case []:
            return
        case ["d", "dh", label, cards]:
            player = _player(label, players)
            dealt = _cards(cards, "hole cards")
            if len(dealt) != 2:
                raise UnreadableError(f"{text!r}: hold'em deals two hole cards")
            if player in holes:
                raise UnreadableError(f"{text!r}: {label} is dealt twice")
            holes[player] = (dealt[0], dealt[1])
        case ["d", "db", cards]:
            steps.append(Board(text, _cards(cards, "board cards")))
        case [label, "f" | "cc" as verb]:
            steps.append(Move(text, _player(label, players), verb))
        case [label, "cbr", amount]:
            steps.append(Move(text, _player(label, players), "cbr", _bet(text, amount)))
        case [label, "sm", *shown] if len(shown) <= 1:
            # Showing or mucking: pokerd applies PokerKit's own rule (show when
            # the hand can still win), so the file's choice is not replayed; a
            # different choice shows up as a different result.
            _player(label, players)
        case [_, "pb"]:
            raise OutOfScopeError(
                "bring-ins: pokerd's hold'em has blinds, not bring-ins"
            )
        case [_, "sd", *_]:
            raise OutOfScopeError("standing pat or discarding: a draw game's action")
        case _:
            raise UnreadableError(f"{text!r} is not a PHH action")


def _bet(text: str, amount: str) -> int:
    try:
        value = Decimal(amount.replace(",", ""))
    except InvalidOperation:
        raise UnreadableError(f"{text!r}: {amount!r} is not an amount") from None
    return _amount(f"the action {text!r}", value)


def _names(value: object, players: int) -> tuple[str, ...]:
    """The players' names, or p1, p2, ... where the file has none pokerd takes
    (pokerd wants 1 to 32 printable characters, distinct at a table)."""
    given = value if isinstance(value, list) else []
    names: list[str] = []
    for index in range(players):
        name = (
            given[index].strip()
            if index < len(given) and isinstance(given[index], str)
            else ""
        )
        if not 0 < len(name) <= 32 or not name.isprintable() or name in names:
            name = f"p{index + 1}"
        while name in names:  # a real name may look like a fallback one
            name = f"{name}'"
        names.append(name)
    return tuple(names)


# --- Conversion: a PhhHand as pokerd commands --------------------------------


def table_config(hand: PhhHand) -> TableConfig:
    """The table to play `hand` at; OutOfScopeError if it cannot express it.

    PHH's antes and blinds_or_straddles are PokerKit's inputs, by blind role:
    index 0 is the small blind's, index 1 the big blind's, heads-up included
    (PokerKit swaps heads-up roles itself). pokerd's table posts a uniform
    `ante` from every player plus a `big_blind_ante` from the big blind, and
    blinds and straddles contiguously from the small blind, never from the
    button.
    """
    players = hand.players
    blinds = list(hand.blinds_or_straddles)
    while blinds and blinds[-1] == 0:
        blinds.pop()
    blinds += [0] * (2 - len(blinds))
    small_blind, big_blind, *straddles = blinds
    if 0 in straddles:
        raise OutOfScopeError(
            f"blinds_or_straddles {list(hand.blinds_or_straddles)}: "
            "a gap before a straddle"
        )
    if len(blinds) > max(2, players - 1):
        raise OutOfScopeError(
            f"blinds_or_straddles {list(hand.blinds_or_straddles)}: "
            "a straddle from the button"
        )
    if hand.min_bet != big_blind:
        raise OutOfScopeError(
            f"min_bet {hand.min_bet} differs from the big blind {big_blind}"
        )
    ante, big_blind_ante = _antes(hand)
    # pokerd trims antes (PokerKit's ante_trimming_status) exactly when there
    # is no big-blind ante. The file's setting only changes the result when it
    # differs and some player cannot pay the whole ante; with a big-blind ante,
    # trimming refunds the ante itself, so that is always out.
    if hand.ante_trimming != (big_blind_ante == 0):
        if big_blind_ante:
            raise OutOfScopeError(
                "ante trimming with a big-blind ante: pokerd does not trim it"
            )
        if ante and min(hand.starting_stacks) < ante:
            raise OutOfScopeError(
                "a stack shorter than the ante without ante trimming: pokerd trims"
            )
    config = TableConfig(
        max_seats=max(players, 2),
        small_blind=small_blind,
        big_blind=big_blind,
        ante=ante,
        big_blind_ante=big_blind_ante,
        straddles=tuple(straddles),
        min_buy_in=1,
        max_buy_in=max(hand.starting_stacks),
    )
    problem = config_problem(config)
    if problem is not None:
        raise OutOfScopeError(f"pokerd cannot make this table: {problem}")
    return config


def _antes(hand: PhhHand) -> tuple[int, int]:
    """(ante, big_blind_ante) giving the file's antes, index by index."""
    antes = hand.antes
    others = {amount for index, amount in enumerate(antes) if index != 1}
    if len(others) == 1 and antes[1] >= antes[0]:
        return antes[0], antes[1] - antes[0]
    raise OutOfScopeError(
        f"antes {list(antes)}: pokerd has a uniform ante and a big-blind ante only"
    )


def seat_for(player: int, players: int) -> int:
    """The seat that pokerd's first hand puts at the file's position `player`.

    On a fresh table the big blind goes to the second-lowest seat; with 3+
    players seat i is then position i (small blind at seat 0, button last).
    Heads-up the lowest seat is the button, and PokerKit's position 0 is the
    big blind: position 0 sits in seat 1, position 1 (the button) in seat 0.
    """
    return 1 - player if players == 2 else player


def _board_positions(players: int) -> tuple[int, ...]:
    """Where pokerd takes the board from: after the hole cards, each street
    burns one card, then flop 2n+1..2n+3, turn 2n+5, river 2n+7."""
    first = 2 * players
    return (first + 1, first + 2, first + 3, first + 5, first + 7)


def deal_deck(hand: PhhHand) -> tuple[str, ...]:
    """A deck from which pokerd deals exactly the file's cards.

    Burns and the rest are the unused cards in the standard order: their order
    changes nothing, as long as every card pokerd deals comes from the file.
    """
    players = hand.players
    placed: dict[int, str] = {}
    for player, cards in enumerate(hand.hole_cards):
        for round_, card in enumerate(cards):
            placed[hole_position(player, round_, players)] = card
    placed.update(zip(_board_positions(players), hand.board, strict=False))
    rest = iter(card for card in STANDARD_DECK if card not in placed.values())
    return tuple(
        placed[p] if p in placed else next(rest) for p in range(len(STANDARD_DECK))
    )


def play_hand(hand: PhhHand) -> Outcome:
    """Play `hand` at a fresh pokerd table and compare the result with the file's."""
    try:
        config = table_config(hand)
    except OutOfScopeError as skip:
        return Outcome(status="skipped", reason=skip.reason)
    players = hand.players
    seats = [seat_for(player, players) for player in range(players)]
    commands: list[CreateTable | SitDown | StartHand] = [CreateTable(config=config)]
    commands += [
        SitDown(seat=seat, name=hand.names[player], buy_in=hand.starting_stacks[player])
        for player, seat in enumerate(seats)
    ]
    commands.append(StartHand(deck=deal_deck(hand), secret=SECRET, now_ms=NOW_MS))
    state = initial_state()
    events: list[Event] = []
    try:
        for command in commands:
            events, state = handle(state, command)
        assert state.hand is not None
        # seat_for restates pokerd's seating rule and table_config its forced
        # bets; were they to drift from the engine, the file's hand would be
        # played at the wrong positions or with other blinds.
        assert list(state.hand.started.seats) == seats, state.hand.started.seats
        poker = state.hand.poker()
        assert tuple(poker.antes) == hand.antes, poker.antes
        assert tuple(poker.blinds_or_straddles) == hand.blinds_or_straddles
        state = _play(state, hand, seats, _boards(events))
    except RuleError as error:
        return Outcome.error(error.code, error.message)
    except MismatchError as mismatch:
        return Outcome.error(mismatch.code, mismatch.message)
    except OutOfScopeError as skip:
        return Outcome(status="skipped", reason=skip.reason)
    assert state.hand is not None and state.hand.ended is not None
    stacks = state.hand.ended.stacks
    if hand.finishing_stacks is not None and hand.finishing_stacks != stacks:
        return Outcome(
            status="error",
            code="result_mismatch",
            message=f"pokerd finishes with {list(stacks)}, "
            f"the file with {list(hand.finishing_stacks)}",
            played=state.hand,
        )
    return Outcome(status="ok", finishing_stacks=stacks, played=state.hand)


def _boards(events: Iterable[Event]) -> list[BoardDealt]:
    return [event for event in events if isinstance(event, BoardDealt)]


def _play(
    state: TableState, hand: PhhHand, seats: Sequence[int], dealt: list[BoardDealt]
) -> TableState:
    """Apply the file's steps; returns the state once the hand has ended.

    pokerd deals the board itself as soon as a street is due, so each of the
    file's `d db` must meet the board pokerd has just dealt (same cards, at the
    same point of the hand): MismatchError otherwise. Raises OutOfScopeError
    if the file stops before the hand ends.
    """
    pending = deque(dealt)
    for step in hand.steps:
        if isinstance(step, Board):
            if not pending:
                raise MismatchError(
                    "board_mismatch",
                    f"{step.text!r}: pokerd deals no board at this point",
                )
            board = pending.popleft()
            if board.cards != step.cards:
                raise MismatchError(
                    "board_mismatch",
                    f"{step.text!r}: pokerd deals the {board.street} "
                    f"{''.join(board.cards)}",
                )
            continue
        if pending:
            raise MismatchError(
                "board_mismatch",
                f"{step.text!r}: pokerd has dealt the {pending[0].street} "
                "before this action",
            )
        events, state = handle(state, _act(state, step, seats[step.player]))
        pending.extend(_boards(events))
    played = state.hand
    assert played is not None
    if played.ended is None:
        actor = played.actor()
        who = "nobody" if actor is None else f"p{seats.index(actor) + 1}"
        raise OutOfScopeError(f"the file stops before the hand ends ({who} to act)")
    if pending:
        raise OutOfScopeError(f"the file stops before dealing the {pending[0].street}")
    return state


def _act(state: TableState, move: Move, seat: int) -> Act:
    """The pokerd command for one PHH betting action.

    `cc` is a check or a call depending on what is owed. When this player is
    not the one to act, the check is sent anyway, for pokerd to refuse.
    """
    if move.verb == "f":
        return Act(seat=seat, action="fold", now_ms=NOW_MS)
    if move.verb == "cbr":
        return Act(seat=seat, action="raise", amount=move.amount, now_ms=NOW_MS)
    hand = state.hand
    legal = None if hand is None else legal_actions(hand)
    calls = legal is not None and not legal.check
    return Act(seat=seat, action="call" if calls else "check", now_ms=NOW_MS)


# --- Playing files, and the command line --------------------------------------


def play_fields(fields: object) -> Outcome:
    """Parse and play one hand's PHH fields."""
    try:
        hand = parse_hand(fields)
    except OutOfScopeError as skip:
        return Outcome(status="skipped", reason=skip.reason)
    except UnreadableError as error:
        return Outcome.error("unreadable", str(error))
    return play_hand(hand)


def play_file(path: str) -> list[dict[str, object]]:
    """One JSON-ready record per hand of the file at `path`.

    A file that cannot be read or parsed at all gives a single record whose
    hand is None.
    """
    try:
        hands = read_hands(path)
    except UnreadableError as error:
        return [Outcome.error("unreadable", str(error)).record(path, None)]
    return [
        play_fields(fields).record(path, index) for index, fields in enumerate(hands)
    ]


def play_command(paths: Sequence[str], out: TextIO) -> int:
    """`pokerd phh play FILE...`: one JSON line per hand; 1 if any errored."""
    failed = False
    for path in paths:
        for record in play_file(path):
            out.write(json.dumps(record) + "\n")
            failed = failed or record["status"] == "error"
    return 1 if failed else 0


# --- Export: a pokerd hand as PHH ---------------------------------------------

_STREET_COMMENTS = {"flop": "Flop", "turn": "Turn", "river": "River"}


def hand_phh(
    hand: HandState, *, viewer: int | None = None, reveal_all: bool = False
) -> str:
    """`hand` as PHH text, as `viewer` (a seat, or None for a spectator) may see it.

    Hole cards are written for the viewer's own seat, for seats that showed at
    showdown, and for every seat with `reveal_all`; the rest are `????`, which
    PokerKit reads as unknown cards. Mucked hands are `pN sm` (no cards). The
    PHH player order is pokerd's position order, so `pN` is
    `hand.started.seats[N - 1]`. Finishing stacks are written once the hand
    has ended.
    """
    started = hand.started
    label = {seat: f"p{index + 1}" for index, seat in enumerate(started.seats)}
    shown = {step.seat for step in hand.steps if isinstance(step, HoleCardsShown)}

    def visible(seat: int) -> bool:
        return reveal_all or seat == viewer or seat in shown

    actions: list[tuple[str, str]] = [("", "Pre-flop")]
    for seat, name in zip(started.seats, started.names, strict=True):
        cards = "".join(hole_cards(started, seat)) if visible(seat) else "????"
        actions.append((f"d dh {label[seat]} {cards}", name))
    showdown = False
    for step in hand.steps:
        if isinstance(step, BoardDealt):
            actions.append(("", _STREET_COMMENTS[step.street]))
            actions.append((f"d db {''.join(step.cards)}", ""))
            continue
        name = started.names[started.seats.index(step.seat)]
        if isinstance(step, ActionTaken):
            actions.append((f"{label[step.seat]} {_verb(step)}", name))
            continue
        if not showdown:
            actions.append(("", "Showdown"))
            showdown = True
        shown_cards = step.cards if isinstance(step, HoleCardsShown) else ()
        action = f"{label[step.seat]} sm {''.join(shown_cards)}".rstrip()
        actions.append((action, name))
    # The forced bets are written as the rules engine was given them: PHH's
    # antes and blinds_or_straddles are PokerKit's own inputs (by blind role,
    # swapped heads-up by PokerKit), whatever order pokerd's events use.
    # PokerKit reads a missing ante_trimming_status as false, so it is always
    # written.
    poker = hand.poker()
    lines = [
        f"# pokerd hand {started.hand}, played under {started.engine}.",
        f"variant = {_toml(VARIANT)}",
        f"ante_trimming_status = {_toml(bool(poker.ante_trimming_status))}",
        f"antes = {_toml(list(poker.antes))}",
        f"blinds_or_straddles = {_toml(list(poker.blinds_or_straddles))}",
        f"min_bet = {_toml(started.min_bet)}",
        f"starting_stacks = {_toml(list(poker.starting_stacks))}",
        "actions = [",
        *(_action_line(action, comment) for action, comment in actions),
        "]",
        f"hand = {_toml(started.hand)}",
        # PHH counts seats from 1; pokerd from 0.
        f"seats = {_toml([seat + 1 for seat in started.seats])}",
        f"players = {_toml(list(started.names))}",
    ]
    if hand.ended is not None:
        lines.append(f"finishing_stacks = {_toml(list(hand.ended.stacks))}")
    # User-defined fields start with an underscore (PHH spec): the deck
    # commitment lets a reader check the shown cards against the hand's proofs.
    lines.append(f"_commitment = {_toml(started.commitment)}")
    return "\n".join(lines) + "\n"


def _verb(action: ActionTaken) -> str:
    """PHH has one verb for check and call, and one for bet and raise (to)."""
    if action.action == "fold":
        return "f"
    if action.action in ("check", "call"):
        return "cc"
    return f"cbr {action.amount}"


def _action_line(action: str, comment: str) -> str:
    # Names are printable (pokerd checks on sitting down), but a TOML comment
    # ends at a newline, so make sure nothing can break out of it.
    comment = "".join(c if c.isprintable() else "?" for c in comment)
    if not action:
        return f"  # {comment}"
    return f"  {_toml(action)},  # {comment}" if comment else f"  {_toml(action)},"


def _toml(value: str | int | bool | Sequence[str] | Sequence[int]) -> str:
    """A TOML value: JSON's string escapes are TOML's, bar DEL, which TOML
    wants escaped too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return "[" + ", ".join(_toml(item) for item in value) + "]"
