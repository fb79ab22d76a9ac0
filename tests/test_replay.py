"""`pokerd replay` and `pokerd migrate` on databases of real games."""

from __future__ import annotations

import json
import random
import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import attrs
import pytest
from databases import raw_connection
from pokerkit import HandHistory

from pokerd.cli import main
from pokerd.engine import (
    Act,
    ComeBack,
    Command,
    CreateTable,
    Event,
    HandEnded,
    HandStarted,
    SitDown,
    TableConfig,
    TableState,
    TopUp,
    fold,
    handle,
)
from pokerd.engine.views import hole_cards
from pokerd.hands.history import hand_row
from pokerd.hands.story import summary
from pokerd.ops.settings import Database, is_postgresql
from pokerd.store import EventStore, open_database
from pokerd.tables.dealer import random_action, start_hand
from pokerd.tools.replay import first_difference

NOW_MS = 1_700_000_000_000


@attrs.define
class Recorder:
    """Plays a table through `handle` into the store, as the server's shell does:
    a hand's record and a snapshot go with the append that ends the hand."""

    store: EventStore
    table_id: str
    rng: random.Random
    state: TableState = attrs.Factory(TableState)
    log: list[Event] = attrs.Factory(list)
    snapshots: int = 0
    hands: dict[int, tuple[int, int | None]] = attrs.Factory(dict)
    """hand -> (seq of its hand_started, seq of its hand_ended or None)."""

    @property
    def seq(self) -> int:
        return len(self.log)

    def run(self, command: Command) -> None:
        events, state = handle(self.state, command)
        ended = any(isinstance(event, HandEnded) for event in events)
        record = None
        if ended:
            assert state.hand is not None
            record = hand_row(state.hand)
            self.snapshots += 1
        self.store.append_blocking(
            self.table_id,
            self.seq + 1,
            events,
            snapshot=state if ended else None,
            hand=record,
            now_ms=NOW_MS,
        )
        for event in events:
            self.log.append(event)
            if isinstance(event, HandStarted):
                self.hands[event.hand] = (self.seq, None)
            if isinstance(event, HandEnded):
                self.hands[event.hand] = (self.hands[event.hand][0], self.seq)
        self.state = state

    def deal(self) -> None:
        for index, seat in enumerate(self.state.seats):
            if seat is not None and seat.stack == 0:
                self.run(TopUp(seat=index, amount=100))
                self.run(ComeBack(seat=index))
        self.run(start_hand(NOW_MS, self.rng))

    def play_out(self) -> None:
        while self.state.hand_in_progress:
            action = random_action(self.state, self.rng, NOW_MS)
            assert action is not None
            self.run(action)


@attrs.frozen
class Made:
    db: Database
    """An SQLite file or a PostgreSQL URL (the tests run on both)."""
    main: Recorder
    side: Recorder


@pytest.fixture
def database(database: Database) -> Made:
    """On each backend (conftest's `database`), two tables. `main`: alice and
    bob heads-up, hand 1 opens with alice raising to 8 (seq 6); carol joins;
    hands 2 and 3 are played out and hand 4 is left unfinished. `side`: three
    players, two hands."""
    with EventStore(database) as store:
        main_table = Recorder(store, "main", random.Random(7))
        main_table.run(CreateTable(config=TableConfig(max_seats=4)))
        main_table.run(SitDown(seat=0, name="alice", buy_in=100))
        main_table.run(SitDown(seat=1, name="bob", buy_in=100))
        main_table.deal()
        main_table.run(Act(seat=0, action="raise", amount=8, now_ms=NOW_MS))
        main_table.run(Act(seat=1, action="call", now_ms=NOW_MS))
        main_table.play_out()
        main_table.run(SitDown(seat=2, name="carol", buy_in=100))
        for _ in range(2):
            main_table.deal()
            main_table.play_out()
        main_table.deal()
        action = random_action(main_table.state, main_table.rng, NOW_MS)
        assert action is not None
        main_table.run(action)

        side = Recorder(store, "side", random.Random(11))
        side.run(CreateTable(config=TableConfig(max_seats=6)))
        for seat, name in enumerate(("dave", "erin", "frank")):
            side.run(SitDown(seat=seat, name=name, buy_in=150))
        for _ in range(2):
            side.deal()
            side.play_out()
    assert main_table.hands[4][1] is None
    return Made(database, main_table, side)


def story_lines(out: str) -> list[tuple[int, str]]:
    """(seq, line) for each printed line, checking every one has a seq prefix."""
    result = []
    for line in out.splitlines():
        assert line.startswith("#"), line
        result.append((int(line[1:].split()[0]), line))
    return result


def replay(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, str, str]:
    status = main(["replay", *(str(arg) for arg in args)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def rewrite(database: Database, sql: str, *parameters: object) -> None:
    with closing(raw_connection(database)) as connection:
        connection.execute(sql, parameters)


def drop_trigger(database: Database, name: str) -> None:
    """Let a test damage the log as a hand with a database shell could."""
    on = " ON events" if is_postgresql(database) else ""
    rewrite(database, f"DROP TRIGGER {name}{on}")


# The story


def test_story_prints_every_event_once_in_seq_order(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(capsys, "--db", database.db, "main")

    assert status == 0
    assert [seq for seq, _ in story_lines(out)] == list(range(1, database.main.seq + 1))


def test_story_tells_an_action_with_the_table_after_it(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, "--db", database.db, "main")

    assert (
        "#6  alice (seat 0) raises to 8  | stacks alice=92 bob=98 | pot 10 | "
        "board - | to act: bob (seat 1)"
    ) in out.splitlines()


def test_story_shows_every_players_hole_cards(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, "--db", database.db, "main")

    started = database.main.log[3]
    assert isinstance(started, HandStarted)
    hand_line = out.splitlines()[3]
    for seat, name in zip(started.seats, started.names, strict=True):
        assert f"{name} 100 [{' '.join(hole_cards(started, seat))}]" in hand_line


def test_story_of_one_hand_runs_from_its_start_to_its_end(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(capsys, "--db", database.db, "main", "--hand", "2")

    first, last = database.main.hands[2]
    lines = story_lines(out)
    assert status == 0
    assert [seq for seq, _ in lines] == list(range(first, (last or 0) + 1))
    assert "hand #2:" in lines[0][1]
    assert "hand #2 ends" in lines[-1][1]


def test_story_of_an_unfinished_hand_runs_to_the_end_of_the_log(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(capsys, "--db", database.db, "main", "--hand", "4")

    first, _ = database.main.hands[4]
    assert status == 0
    assert [seq for seq, _ in story_lines(out)] == list(
        range(first, database.main.seq + 1)
    )
    assert "ends" not in out


def test_story_from_and_to_print_exactly_that_range_of_seqs(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(
        capsys, "--db", database.db, "main", "--from", "10", "--to", "20"
    )

    assert status == 0
    assert [seq for seq, _ in story_lines(out)] == list(range(10, 21))


def test_story_from_mid_log_shows_the_table_folded_from_the_start(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = database.main.hands[3]
    middle = first + 5
    _, full, _ = replay(capsys, "--db", database.db, "main")
    status, out, _ = replay(capsys, "--db", database.db, "main", "--from", str(middle))

    lines = out.splitlines()
    assert status == 0
    assert lines == full.splitlines()[middle - 1 :]
    folded = fold(database.main.log[:middle])
    assert lines[0].endswith(f"| {summary(folded)}")
    assert "=100 " not in lines[0]  # stacks have moved since the buy-ins


def test_story_range_inside_a_hand_keeps_only_that_hands_seqs(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = database.main.hands[1]
    _, out, _ = replay(capsys, "--db", database.db, "main", "--hand", "1", "--to", "8")

    assert last is not None and last > 8
    assert [seq for seq, _ in story_lines(out)] == list(range(first, 9))
    assert out.splitlines()[-1] == (
        "#8  bob (seat 1) calls 6  | stacks alice=92 bob=92 | pot 16 | board -"
    )


def test_story_refuses_a_hand_the_table_never_dealt(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = replay(capsys, "--db", database.db, "main", "--hand", "9")

    assert status == 2
    assert out == ""
    assert "table main has no hand 9" in err


# PHH


def test_phh_of_a_hand_loads_in_pokerkit_and_reaches_the_logged_stacks(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(capsys, "--db", database.db, "main", "--hand", "2", "--phh")

    _, last = database.main.hands[2]
    assert last is not None
    ended = database.main.log[last - 1]
    assert isinstance(ended, HandEnded)
    history = HandHistory.loads(out)
    states = list(history)
    assert status == 0
    assert list(states[-1].stacks) == list(ended.stacks)
    assert history.finishing_stacks == list(ended.stacks)


def test_phh_reveals_every_hole_card(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = replay(capsys, "--db", database.db, "main", "--hand", "3", "--phh")

    first, _ = database.main.hands[3]
    started = database.main.log[first - 1]
    assert isinstance(started, HandStarted)
    assert "????" not in out
    for seat in started.seats:
        assert "".join(hole_cards(started, seat)) in out


def test_phh_of_an_unfinished_hand_loads_without_finishing_stacks(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(capsys, "--db", database.db, "main", "--hand", "4", "--phh")

    history = HandHistory.loads(out)
    assert status == 0
    assert history.finishing_stacks is None
    assert list(history)[-1].status  # PokerKit: the hand is still being played


def test_phh_needs_one_hand(database: Made, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = replay(capsys, "--db", database.db, "main", "--phh")

    assert status == 2
    assert "--phh" in err and "--hand" in err


# Verify


def test_verify_passes_every_table_of_a_sound_database(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = replay(capsys, "--db", database.db, "--verify")

    main_table, side = database.main, database.side
    assert status == 0
    assert out.splitlines() == [
        f"table main: {main_table.seq} events, {main_table.snapshots} snapshots, "
        "3 hands: ok",
        f"table side: {side.seq} events, {side.snapshots} snapshots, 2 hands: ok",
    ]


def test_verify_names_the_table_seq_and_field_of_a_tampered_snapshot(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    _, seq = database.main.hands[2]
    with closing(raw_connection(database.db)) as connection:
        (text,) = connection.execute(
            "SELECT state FROM snapshots WHERE table_id = 'main' AND seq = ?", (seq,)
        ).fetchone()
    state = json.loads(text)
    stack = state["seats"][1]["stack"]
    state["seats"][1]["stack"] = stack + 7
    rewrite(
        database.db,
        "UPDATE snapshots SET state = ? WHERE table_id = 'main' AND seq = ?",
        json.dumps(state),
        seq,
    )

    status, out, _ = replay(capsys, "--db", database.db, "--verify")

    assert status == 1
    assert out.splitlines()[0] == (
        f"table main: snapshot at seq {seq} differs from the fold of the log: "
        f"seats[1].stack {stack + 7} != {stack}"
    )
    assert out.splitlines()[1].startswith("table side: ")
    assert out.splitlines()[1].endswith(": ok")


def test_verify_names_the_hand_and_field_of_a_tampered_hands_row(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = database.main.hands[3]
    with closing(raw_connection(database.db)) as connection:
        (text,) = connection.execute(
            "SELECT summary FROM hands WHERE table_id = 'main' AND hand = 3"
        ).fetchone()
    record = json.loads(text)
    net = record["seats"][0]["net"]
    record["seats"][0]["net"] = net + 1
    rewrite(
        database.db,
        "UPDATE hands SET summary = ? WHERE table_id = 'main' AND hand = 3",
        json.dumps(record),
    )

    status, out, _ = replay(capsys, "--db", database.db, "--verify", "main")

    assert status == 1
    assert out.splitlines() == [
        f"table main: hand 3 (hands row, seq {first}-{last}) differs from the fold "
        f"of the log: summary.seats[0].net {net + 1} != {net}"
    ]


def test_verify_notices_a_hands_row_with_the_wrong_seqs(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = database.main.hands[2]
    rewrite(
        database.db,
        "UPDATE hands SET first_seq = first_seq + 1 WHERE table_id = 'main'"
        " AND hand = 2",
    )

    status, out, _ = replay(capsys, "--db", database.db, "--verify", "main")

    assert status == 1
    assert f"first_seq {first + 1} != {first}" in out
    assert f"hand 2 (hands row, seq {first}-{last})" in out


def test_verify_notices_a_hand_without_its_hands_row(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    _, last = database.main.hands[1]
    rewrite(database.db, "DELETE FROM hands WHERE table_id = 'main' AND hand = 1")

    status, out, _ = replay(capsys, "--db", database.db, "--verify", "main")

    assert status == 1
    assert out == f"table main: hand 1 ends at seq {last} but has no hands row\n"


def test_verify_skips_a_snapshot_of_another_format(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    _, seq = database.main.hands[1]
    rewrite(
        database.db,
        "UPDATE snapshots SET format = 99, state = '{}'"
        " WHERE table_id = 'main' AND seq = ?",
        seq,
    )

    status, out, _ = replay(capsys, "--db", database.db, "--verify", "main")

    assert status == 0
    assert "(1 skipped: not format 1)" in out
    assert out.endswith(": ok\n")


def test_verify_notices_a_gap_in_the_seqs(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    # The log refuses deletes; a damaged file (or a hand with a shell) need not.
    drop_trigger(database.db, "events_are_never_deleted")
    rewrite(database.db, "DELETE FROM events WHERE table_id = 'side' AND seq = 5")

    status, out, _ = replay(capsys, "--db", database.db, "--verify")

    assert status == 1
    assert "table side: the log jumps from seq 4 to seq 6" in out.splitlines()
    assert out.splitlines()[0].endswith(": ok")


def test_verify_reports_an_event_that_does_not_decode(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    drop_trigger(database.db, "events_are_never_updated")
    rewrite(
        database.db,
        'UPDATE events SET payload = \'{"type": "nonsense"}\''
        " WHERE table_id = 'main' AND seq = 3",
    )

    status, out, _ = replay(capsys, "--db", database.db, "--verify", "main")

    assert status == 1
    assert out.startswith("table main: the event at seq 3 does not decode: unknown")


def test_verify_refuses_range_options(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = replay(capsys, "--db", database.db, "--verify", "--hand", "1")

    assert status == 2
    assert "--verify" in err


# Reading only, and refusals


def test_replay_never_changes_the_database_file(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    if not isinstance(database.db, Path):
        pytest.skip("about an SQLite file (PostgreSQL: a read-only transaction)")
    before = database.db.read_bytes()

    replay(capsys, "--db", database.db, "main")
    replay(capsys, "--db", database.db, "main", "--hand", "4", "--from", "3")
    replay(capsys, "--db", database.db, "main", "--hand", "2", "--phh")
    replay(capsys, "--db", database.db, "--verify")
    replay(capsys, "--db", database.db, "nowhere")

    assert database.db.read_bytes() == before
    wal = database.db.with_name(database.db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_replay_refuses_a_missing_database_without_creating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.db"

    status, out, err = replay(capsys, "--db", path, "main")

    assert status == 2
    assert out == ""
    assert f"no database at {path}" in err
    assert not path.exists()


def test_replay_refuses_an_unknown_table_and_lists_the_known_ones(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = replay(capsys, "--db", database.db, "--verify", "nowhere")

    assert status == 2
    assert out == ""
    assert "no table 'nowhere'" in err
    assert "main, side" in err


def test_replay_needs_a_table_unless_verifying(
    database: Made, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = replay(capsys, "--db", database.db)

    assert status == 2
    assert "TABLE is required" in err


def test_replay_help_warns_that_the_story_shows_every_hole_card(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", "--help"])

    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "EVERY player's hole cards" in help_text
    assert "every hole card revealed" in help_text


# Migrate


def test_migrate_creates_a_new_database_then_finds_it_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / "pokerd.db"

    assert main(["migrate", "--db", str(path)]) == 0
    first = capsys.readouterr().out
    assert main(["migrate", "--db", str(path)]) == 0
    second = capsys.readouterr().out

    assert first.splitlines() == [
        "applied 0001_event_log.sql",
        "applied 0002_request_ids.sql",
        f"{path}: now at schema version 2",
    ]
    assert second.splitlines() == [f"{path}: up to date at schema version 2"]
    connection = sqlite3.connect(path)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert {"events", "snapshots", "hands", "schema_version"} <= tables


def test_migrate_refuses_a_newer_database_and_leaves_it_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pokerd.db"
    connection = open_database(path)
    connection.execute(
        "INSERT INTO schema_version (version, name, applied_at)"
        " VALUES (3, '0003_from_the_future.sql', 0)"
    )
    connection.close()
    before = path.read_bytes()

    status = main(["migrate", "--db", str(path)])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert "schema version 3" in captured.err
    assert "newer pokerd" in captured.err
    assert path.read_bytes() == before
    assert replay(capsys, "--db", path, "--verify")[0] == 2


def test_migrate_refuses_a_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 100)

    status = main(["migrate", "--db", str(path)])

    assert status == 2
    assert capsys.readouterr().err == (
        f"pokerd migrate: cannot open {path}: it is not an SQLite database\n"
    )
    assert path.read_text() == "not a database, " * 100
    assert sorted(tmp_path.iterdir()) == [path]  # no owner file, no -wal left


def test_migrate_creates_a_postgresql_schema_then_finds_it_up_to_date(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--db", postgres_url]) == 0
    first = capsys.readouterr().out
    assert main(["migrate", "--db", postgres_url]) == 0
    second = capsys.readouterr().out

    assert first.splitlines() == [
        "applied 0001_event_log.sql",
        "applied 0002_nodes.sql",
        "applied 0003_placement.sql",
        "applied 0004_request_ids.sql",
        f"{postgres_url}: now at schema version 4",
    ]
    assert second.splitlines() == [f"{postgres_url}: up to date at schema version 4"]
    assert replay(capsys, "--db", postgres_url, "--verify") == (0, "no tables\n", "")


def test_migrate_and_replay_say_in_one_line_when_postgresql_is_not_there(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A port nothing listens on (bound, never listening), a password to hide.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        url = f"postgresql://pokerd:secret@127.0.0.1:{port}/pokerd"
        assert main(["migrate", "--db", url]) == 2
        migrate_err = capsys.readouterr().err
        status, out, replay_err = replay(capsys, "--db", url, "--verify")

    hidden = f"postgresql://pokerd:***@127.0.0.1:{port}/pokerd"
    assert migrate_err.startswith(f"pokerd migrate: cannot connect to {hidden}: ")
    assert (status, out) == (2, "")
    assert replay_err.startswith(f"pokerd replay: cannot connect to {hidden}: ")
    for err in (migrate_err, replay_err):
        assert err.count("\n") == 1 and "secret" not in err


# Differences


def test_first_difference_names_the_path_of_the_first_differing_value() -> None:
    stored = {"seats": [{"stack": 80}, None], "hand": None}
    folded = {"seats": [{"stack": 95}, None], "hand": None}

    assert first_difference(stored, folded) == "seats[0].stack 80 != 95"
    assert first_difference(folded, folded) is None


def test_first_difference_names_missing_keys_and_list_lengths() -> None:
    assert first_difference({"a": [1, 2]}, {"a": [1]}) == "a has 2 items != 1"
    assert first_difference({}, {"b": 1}) == "b is missing (the fold has 1)"
    assert first_difference({"c": True}, {"c": 1}) == "c true != 1"


def test_first_difference_names_the_first_differing_line_of_a_text() -> None:
    assert (
        first_difference({"phh": "a\nb\nc"}, {"phh": "a\nB\nc"})
        == 'phh line 2 "b" != "B"'
    )
