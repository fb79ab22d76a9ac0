"""The `pokerd` command line: the demo table, the help text and `phh play`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pokerd.cli import main


def test_demo_plays_the_asked_hands_and_checks_the_log_folds_to_the_live_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["demo", "--hands", "3", "--players", "4", "--pace", "0"])

    out = capsys.readouterr().out
    assert status == 0
    assert "hand #3 ends" in out
    assert "hand #4" not in out
    assert "3 hands" in out
    assert "folding the log equals the live table" in out


def test_demo_refuses_a_player_count_it_cannot_seat(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--players", "9"]) == 2
    assert "--players is 2 to 6" in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "phh"):
        assert command in out


def test_phh_play_plays_the_files_and_phh_replay_is_no_longer_a_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fixture = Path(__file__).parent / "phh" / "heads-up.phh"

    assert main(["phh", "play", str(fixture)]) == 0
    played = json.loads(capsys.readouterr().out)
    with pytest.raises(SystemExit) as exited:
        main(["phh", "replay", str(fixture)])

    assert (played["file"], played["status"]) == (str(fixture), "ok")
    assert exited.value.code == 2
    assert "invalid choice: 'replay'" in capsys.readouterr().err


def test_installed_pokerd_command_runs_the_demo_in_its_own_process() -> None:
    pokerd = Path(sys.executable).parent / "pokerd"
    finished = subprocess.run(
        [str(pokerd), "demo", "--hands", "1", "--players", "2", "--pace", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert "hand #1 ends" in finished.stdout
