"""The `pokerd` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pokerd",
        description="pokerd: a real-time, event-sourced No-Limit Hold'em table server.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="play a demo table in the terminal through the engine",
        description="Bots play real hands through pokerd's engine; each event is "
        "printed as a story line with the table after it.",
    )
    demo.add_argument(
        "--hands", type=int, default=0, help="hands to play (default 0: until Ctrl-C)"
    )
    demo.add_argument("--players", type=int, default=6, help="bots at the table (2-6)")
    demo.add_argument(
        "--pace", type=float, default=0.4, help="seconds between actions (default 0.4)"
    )

    phh = commands.add_parser("phh", help="PHH hand histories")
    phh_commands = phh.add_subparsers(
        dest="phh_command", required=True, metavar="ACTION"
    )
    replay = phh_commands.add_parser(
        "replay",
        help="replay .phh/.phhs files through pokerd's rules",
        description="Replay each No-Limit Hold'em hand of the files through pokerd's "
        "own decide/evolve and print one JSON object per hand per line. Exit status "
        "1 if any hand errored.",
    )
    replay.add_argument("files", nargs="+", metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from pokerd.demo import run_demo

        if not 2 <= args.players <= 6:
            print("pokerd demo: --players is 2 to 6", file=sys.stderr)
            return 2
        return run_demo(
            sys.stdout, hands=args.hands, players=args.players, pace=args.pace
        )
    if args.command == "phh":
        from pokerd.phh import replay_command

        return replay_command(args.files, sys.stdout)
    raise AssertionError(args.command)  # pragma: no cover - argparse requires one
