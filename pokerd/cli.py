"""The `pokerd` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


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
    play = phh_commands.add_parser(
        "play",
        help="play the hands of .phh/.phhs files through pokerd's rules",
        description="Play each No-Limit Hold'em hand of the files through pokerd's "
        "own decide/evolve and print one JSON object per hand per line. Exit status "
        "1 if any hand errored. (`pokerd replay` is another tool: it tells a "
        "table's log from a database.)",
    )
    play.add_argument("files", nargs="+", metavar="FILE")

    migrate = commands.add_parser(
        "migrate",
        help="create a database or bring its schema up to date",
        description="Create the database (an SQLite file, or the tables in a "
        "PostgreSQL database) if it does not exist and apply the "
        "migrations it lacks, printing each one applied. A database written by a "
        "newer pokerd, or held by a running server, is refused and left untouched "
        "(exit status 2).",
    )
    migrate.add_argument(
        "--db",
        required=True,
        metavar="PATH_OR_URL",
        help="the database: an SQLite file, or postgresql://USER@HOST:PORT/NAME",
    )

    _add_serve(commands)
    _add_cluster(commands)
    _add_bots(commands)

    story = commands.add_parser(
        "replay",
        help="tell or verify a table's log from a database (operator's view)",
        description="Print TABLE's log as a story: one line per event, prefixed by "
        "its seq, with the table after it (stacks, pot, board, who is to act). "
        "This is the operator's view of the server-private log: it shows EVERY "
        "player's hole cards. The state shown is always the fold of the whole log "
        "up to that event, whatever range is printed. The database is opened "
        "read-only and never changed.",
        epilog="--verify folds each table's whole log (every table without TABLE) "
        "and checks that seqs run gapless from 1 and that every stored snapshot "
        "and hand-history row equals the fold at its seq; it prints one line per "
        "table and exits 1 naming the first divergence (`stored != fold`). "
        "Snapshots of another format are skipped. Exit status 2: no such "
        "database, table or hand.",
    )
    story.add_argument(
        "--db",
        required=True,
        metavar="PATH_OR_URL",
        help="the database: an SQLite file, or postgresql://USER@HOST:PORT/NAME",
    )
    story.add_argument(
        "table", nargs="?", metavar="TABLE", help="the table (optional with --verify)"
    )
    story.add_argument(
        "--hand",
        type=_positive,
        metavar="N",
        help="only hand N: its hand_started to its hand_ended (or the log's end)",
    )
    story.add_argument(
        "--from", dest="first", type=_positive, metavar="SEQ", help="from seq SEQ on"
    )
    story.add_argument(
        "--to", dest="last", type=_positive, metavar="SEQ", help="up to seq SEQ"
    )
    story.add_argument(
        "--verify",
        action="store_true",
        help="check the log against its snapshots and hand histories",
    )
    story.add_argument(
        "--phh",
        action="store_true",
        help="with --hand: print the hand as PHH, every hole card revealed",
    )
    return parser


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pokerd.ops.settings import DEFAULTS, field_help, switches

    serve = commands.add_parser(
        "serve",
        help="run the table server (web page, HTTP API and live WebSocket stream)",
        description="Serve the tables of the database until SIGINT or SIGTERM, "
        f"all on one port, --port (default {DEFAULTS.port}): the web page, the "
        "HTTP API and the live WebSocket stream, ws://HOST:PORT/tables/{id}/live "
        "(--live-port gives the stream a port of its own). A port that cannot be "
        "opened, or a database in use or that cannot be opened, is one line on "
        "stderr, exit status 2. Settings come from the defaults, then the config "
        "file, then POKERD_<FIELD> environment variables, then these flags.",
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML config file of settings (default: $POKERD_CONFIG, if set)",
    )
    for field, text in field_help().items():
        if field in switches():
            serve.add_argument(
                "--" + field.replace("_", "-"),
                dest=field,
                action=argparse.BooleanOptionalAction,
                default=None,  # not given: the config file's or the default
                help=text,
            )
            continue
        serve.add_argument(
            "--" + field.replace("_", "-"),
            dest=field,
            metavar=field.upper(),
            help=text,
        )


def _add_cluster(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    from pokerd.tools.cluster import DEFAULT_FOLDER, LEASE_TTL_S

    cluster = commands.add_parser(
        "cluster",
        help="run a whole cluster on this machine: PostgreSQL, N nodes, HAProxy",
        description="Start PostgreSQL in --folder (made on first start, kept: the "
        "tables survive a restart), --nodes `pokerd serve` nodes on PostgreSQL "
        "(node1..nodeN at 127.0.0.1, ports --port + 1..N, with --cluster-routing) "
        "and HAProxy on "
        "127.0.0.1:--port, which sends each table to its node (docs/cluster.md). "
        "Print where everything is, then watch: a node that dies is said and "
        "started again (not if it died within 10 s of its start). SIGINT or "
        "SIGTERM stops the nodes (SIGTERM: they release their tables), then "
        "HAProxy, then PostgreSQL. Exit status 2 if it could not start. "
        "With --print-haproxy-config, print HAProxy's configuration for the "
        "--node list (or this cluster's nodes) and exit.",
    )
    cluster.add_argument(
        "--nodes",
        type=_positive,
        default=os.cpu_count() or 1,
        help="nodes to run (default: one per core, here %(default)s)",
    )
    cluster.add_argument(
        "--port",
        type=_positive,
        default=8000,
        help="HAProxy's port, the public one (default %(default)s); node K "
        "listens on PORT + K unless --node-port-base is given",
    )
    cluster.add_argument(
        "--node-port-base",
        type=int,
        metavar="BASE",
        help="node K listens on BASE + K (0: a free port each)",
    )
    cluster.add_argument(
        "--folder",
        type=Path,
        default=DEFAULT_FOLDER,
        help="PostgreSQL's data, HAProxy's configuration and every log "
        "(default %(default)s)",
    )
    cluster.add_argument(
        "--lease-ttl-s",
        type=float,
        default=LEASE_TTL_S,
        metavar="SECONDS",
        help="the nodes' lease ttl (default %(default)s): a dead node's tables "
        "move within about this",
    )
    cluster.add_argument(
        "--no-restart",
        dest="restart",
        action="store_false",
        help="leave a node that dies down (default: start it again)",
    )
    cluster.add_argument(
        "--print-haproxy-config",
        action="store_true",
        help="print HAProxy's configuration and exit (nothing is started)",
    )
    cluster.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="with --print-haproxy-config: a node (repeat for each; NAME is "
        "its --node-id). Default: this cluster's nodes",
    )
    cluster.add_argument(
        "--bind",
        metavar="HOST:PORT",
        help="with --print-haproxy-config: where HAProxy listens (default "
        "127.0.0.1:PORT)",
    )


def _cluster(args: argparse.Namespace) -> int:
    from pokerd.tools.cluster import LocalCluster, run_cluster

    base = args.port if args.node_port_base is None else args.node_port_base
    if args.print_haproxy_config:
        return _print_haproxy_config(args, base)
    if args.node or args.bind:
        print(
            "pokerd cluster: --node and --bind go with --print-haproxy-config",
            file=sys.stderr,
        )
        return 2
    try:
        cluster = LocalCluster(
            args.folder,
            nodes=args.nodes,
            port=args.port,
            node_port_base=args.node_port_base,
            lease_ttl_s=args.lease_ttl_s,
        )
    except OSError as error:
        print(f"pokerd cluster: {error}", file=sys.stderr)
        return 2
    return run_cluster(cluster, sys.stdout, restart=args.restart)


def _print_haproxy_config(args: argparse.Namespace, base: int) -> int:
    from pokerd.tools.haproxy import configuration

    nodes: dict[str, str] = {}
    for entry in args.node:
        name, _, address = entry.partition("=")
        if not name or ":" not in address or name in nodes:
            print(
                f"pokerd cluster: --node {entry!r}: expected NAME=HOST:PORT, "
                "each NAME once",
                file=sys.stderr,
            )
            return 2
        nodes[name] = address
    if not nodes:
        if not base:
            print(
                "pokerd cluster: free ports are not known in advance: "
                "give --node or a --node-port-base",
                file=sys.stderr,
            )
            return 2
        nodes = {f"node{k}": f"127.0.0.1:{base + k}" for k in range(1, args.nodes + 1)}
    try:
        text = configuration(nodes, args.bind or f"127.0.0.1:{args.port}")
    except ValueError as error:
        print(f"pokerd cluster: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _add_bots(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pokerd.ops.settings import DEFAULTS

    api = f"http://{DEFAULTS.host}:{DEFAULTS.port}"
    bots = commands.add_parser(
        "bots",
        help="play bots at new tables of a running server, and check what they got",
        description="Create TABLES tables on the server at --url, seat SEATS bots "
        "at each (buying in at the table's maximum) and play them over the live "
        "stream (HTTP long polling if it cannot be opened): they fold weak hands, "
        "bet strong ones and sometimes bluff, only ever legally. Bots that go "
        "broke top up. After HANDS hands a table (or Ctrl-C), every bot checks "
        "that the events it received are exactly the table's log as its seat may "
        "see it (its last 5,000 events at most), and a summary is printed. Exit "
        "status 0 if every check passed, 1 if one failed, 2 for bad options or an "
        "unreachable server.",
    )
    bots.add_argument(
        "--url",
        default=api,
        help=f"the server's HTTP API (default {api}); the live "
        "stream's address comes from its /healthz",
    )
    bots.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="URL",
        help="another node of the same cluster (repeat for more): tables are "
        "created on --url and each --server in turn, and a bot whose node "
        "cannot be reached moves to the next",
    )
    bots.add_argument("--tables", type=int, default=1, help="tables (default 1)")
    bots.add_argument(
        "--seats", type=int, default=6, help="bots a table, 2-10 (default 6)"
    )
    bots.add_argument(
        "--think",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait before each action, uniform in 0.5x-1.5x of it (default 0)",
    )
    bots.add_argument(
        "--hands",
        type=int,
        default=0,
        help="hands each table plays (default 0: until Ctrl-C)",
    )
    bots.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        metavar="P",
        help="probability per action of cutting the connection right after "
        "sending it (the client resumes; default 0)",
    )
    bots.add_argument(
        "--seed",
        type=int,
        help="seed of the bots' decisions and chaos (default: random)",
    )


def _bots(args: argparse.Namespace) -> int:
    from pokerd.tools.bots import BotsOptions, bots_command

    return bots_command(
        BotsOptions(
            url=args.url,
            servers=tuple(args.server),
            tables=args.tables,
            seats=args.seats,
            think=args.think,
            hands=args.hands,
            chaos=args.chaos,
            seed=args.seed,
        )
    )


def _serve(args: argparse.Namespace) -> int:
    from pokerd.ops.settings import SettingsError, field_help, load_settings
    from pokerd.server.listeners import ListenError
    from pokerd.server.serve import run
    from pokerd.store import SchemaTooNewError, UnavailableError

    overrides = {field: getattr(args, field) for field in field_help()}
    try:
        settings = load_settings(config_file=args.config, overrides=overrides)
    except SettingsError as error:
        print(f"pokerd serve: {error}", file=sys.stderr)
        return 2
    try:
        return run(settings)
    except UnavailableError as error:  # in use, or cannot be opened: one line
        print(f"pokerd serve: {error}", file=sys.stderr)
        return 2
    except SchemaTooNewError as error:
        print(f"pokerd serve: {settings.db}: {error}", file=sys.stderr)
        return 2
    except ListenError as error:
        print(f"pokerd serve: {error}", file=sys.stderr)
        return 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from pokerd.tools.demo import run_demo

        if not 2 <= args.players <= 6:
            print("pokerd demo: --players is 2 to 6", file=sys.stderr)
            return 2
        return run_demo(
            sys.stdout, hands=args.hands, players=args.players, pace=args.pace
        )
    if args.command == "phh":
        from pokerd.hands.phh import play_command

        return play_command(args.files, sys.stdout)
    if args.command == "migrate":
        from pokerd.tools.replay import migrate_command

        return migrate_command(args.db, sys.stdout, sys.stderr)
    if args.command == "replay":
        return _replay(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "bots":
        return _bots(args)
    if args.command == "cluster":
        return _cluster(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse requires one


def _replay(args: argparse.Namespace) -> int:
    from pokerd.tools import replay

    problem = None
    ranged = args.hand is not None or args.first is not None or args.last is not None
    if args.verify and (ranged or args.phh):
        problem = "--verify checks whole logs: no --hand, --from, --to or --phh"
    elif not args.verify and args.table is None:
        problem = "TABLE is required (it is optional only with --verify)"
    elif args.phh and (args.hand is None or args.first or args.last):
        problem = "--phh prints one whole hand: it needs --hand N, and no --from/--to"
    elif args.first is not None and args.last is not None and args.first > args.last:
        problem = f"--from {args.first} is after --to {args.last}"
    if problem is not None:
        print(f"pokerd replay: {problem}", file=sys.stderr)
        return 2
    try:
        if args.verify:
            return replay.verify_command(args.db, args.table, sys.stdout, sys.stderr)
        if args.phh:
            return replay.phh_command(
                args.db, args.table, args.hand, sys.stdout, sys.stderr
            )
        return replay.story_command(
            args.db,
            args.table,
            sys.stdout,
            sys.stderr,
            hand=args.hand,
            first=args.first,
            last=args.last,
        )
    except BrokenPipeError:
        # The reader (`| head`) has gone: stop quietly, without a traceback
        # when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
