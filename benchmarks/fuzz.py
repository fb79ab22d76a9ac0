"""A long fuzz: the suite's generators (tests/fuzz_*.py) for minutes, not seconds.

tests/test_fuzz.py runs a few hundred examples per target; this runs the
same generators against a `pokerd serve` process (and the decoders in this
process) until `--seconds` are up, the targets taking turns in rounds of
`--round-s`, Hypothesis drawing fresh random inputs every round. It prints
the inputs tried per target, the distinct answers seen (HTTP statuses,
error codes, close codes), the tracebacks in the server's log (the goal is
0), and each kind of failure found once, with its input minimized by
Hypothesis (later inputs failing the same way are only counted). Targets:
`decode` (the live stream's decoding and the tables' rules, in this
process), `http` (requests by every route), `raw` (any bytes on the port),
`websocket` (frame sequences on the live stream), `refused` (sequences with
a frame the server must refuse). Exit status 1 if anything failed.

    python benchmarks/fuzz.py [--seconds 120] [--examples N] [--round-s 20]
                              [--targets decode,http,raw,websocket,refused]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz_inputs import (
    any_text,
    http_requests,
    raw_bytes,
    ws_sessions,
)
from fuzz_judge import (
    UndocumentedError,
    judge_decoding,
    judge_log,
)
from fuzz_live import LiveFuzz, pokerd_process, stop
from gwt import deal, table
from gwt import given as table_after

TARGETS = ("decode", "http", "raw", "websocket", "refused")
STATES = [table_after(*table(100, 100), deal()), table_after(*table(100, 100, None))]
"""Tables the decoded seat requests are decided at (as in tests/test_fuzz.py)."""


@attrs.define
class Found:
    """A kind of failure: its first input, minimized, and how often it came."""

    target: str
    kind: str
    detail: str
    minimized: str
    count: int = 1


@attrs.define
class Hunt:
    """Every failure of the run, by target and kind."""

    found: dict[tuple[str, str], Found] = attrs.Factory(dict)
    tried: Counter[str] = attrs.Factory(Counter)

    def body(self, target: str, send: Callable[[Any], None]) -> Callable[[Any], None]:
        """`send` for Hypothesis: a failure of a kind seen before is counted and
        passes (so Hypothesis minimizes only new kinds), a new one is raised."""

        def run(value: Any) -> None:
            self.tried[target] += 1
            try:
                send(value)
            except UndocumentedError as failure:
                known = self.found.get((target, failure.kind))
                if known is None:
                    raise
                known.count += 1

        return run

    def record(self, target: str, failure: BaseException, example: str) -> None:
        kind = (
            failure.kind
            if isinstance(failure, UndocumentedError)
            else f"raised {type(failure).__name__}"
        )
        known = self.found.get((target, kind))
        if known is not None:
            known.count += 1
            return
        self.found[(target, kind)] = Found(
            target, kind, str(failure)[:500], example[:2000]
        )


def decode(payload: bytes) -> None:
    _, problems = judge_decoding(payload, STATES)
    if problems:
        raise UndocumentedError(problems)


def strategies() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "decode": any_text().map(lambda text: text.encode(lambda ref: ref.kind))
        | st.binary(max_size=300),
        "http": http_requests(),
        "raw": raw_bytes(),
        "websocket": ws_sessions(),
        "refused": ws_sessions(refused=True),
    }


def fuzz_round(
    hunt: Hunt,
    target: str,
    strategy: st.SearchStrategy[Any],
    send: Callable[[Any], None],
    examples: int,
) -> None:
    """`examples` fresh inputs (fewer if a failure is found and minimized)."""
    last: list[Any] = []
    run = hunt.body(target, send)

    def remembered(value: Any) -> None:
        last[:] = [value]  # after a failure, the minimized input is the last run
        run(value)

    test = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )(given(strategy)(remembered))
    try:
        test()
    except Exception as error:
        # Several kinds at once, or one that did not fail again when replayed
        # (Hypothesis's FlakyFailure), come as an exception group.
        failures = error.exceptions if isinstance(error, ExceptionGroup) else [error]
        for failure in failures:
            hunt.record(target, failure, _example(failure, last))


def _example(failure: BaseException, last: list[Any]) -> str:
    """The failing input as Hypothesis showed it (minimized), else the last
    input run."""
    for note in getattr(failure, "__notes__", []):
        if note.startswith("Falsifying example"):
            return " ".join(note.split())
    return repr(last[0]) if last else "?"


@attrs.frozen
class Outcome:
    """What a run tried and saw."""

    hunt: Hunt
    spent: dict[str, float]
    """Seconds spent per target."""
    codes: Counter[str]
    tracebacks_seen: int
    """Traceback lines the server logged while the inputs were sent."""
    log: str
    status: int
    """The server's exit status on SIGTERM (0: a clean stop)."""


def run(targets: list[str], seconds: float, examples: int, round_s: float) -> Outcome:
    """Fuzz `targets` in turns for `seconds` (or `examples` inputs each)."""
    hunt = Hunt()
    spent: dict[str, float] = dict.fromkeys(targets, 0.0)
    drawn = strategies()
    with (
        tempfile.TemporaryDirectory() as directory,
        pokerd_process(Path(directory)) as server,
    ):
        fuzz = LiveFuzz(server)
        sends: dict[str, Callable[[Any], None]] = {
            "decode": decode,
            "http": fuzz.http,
            "raw": fuzz.raw,
            "websocket": fuzz.websocket,
            "refused": fuzz.websocket,
        }
        rates = dict.fromkeys(targets, 20.0)  # inputs a second, a first guess
        started = time.monotonic()
        while server.process.poll() is None:
            left = seconds - (time.monotonic() - started)
            todo = [t for t in targets if not examples or hunt.tried[t] < examples]
            if left <= 0 or not todo:
                break
            share = min(round_s, left / len(todo))
            for target in todo:
                count = max(3, int(rates[target] * share))
                if examples:
                    count = min(count, examples - hunt.tried[target])
                before, begun = hunt.tried[target], time.monotonic()
                fuzz_round(hunt, target, drawn[target], sends[target], count)
                took = time.monotonic() - begun
                spent[target] += took
                rates[target] = max(1.0, (hunt.tried[target] - before) / took)
                if server.process.poll() is not None:
                    hunt.found[(target, "server died")] = Found(
                        target, "server died", "", ""
                    )
                    break
        status = stop(server.process)
        log = server.log.read_text(encoding="utf-8", errors="replace")
    return Outcome(
        hunt, dict(spent), fuzz.tally.codes, fuzz.tally.tracebacks, log, status
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument(
        "--examples", type=int, default=0, help="stop each target after N (0: time)"
    )
    parser.add_argument("--round-s", type=float, default=20.0)
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    outcome = run(targets, args.seconds, args.examples, args.round_s)
    report(outcome)
    return 1 if outcome.hunt.found or outcome.status != 0 else 0


def report(outcome: Outcome) -> None:
    hunt, spent, codes, log = outcome.hunt, outcome.spent, outcome.codes, outcome.log
    total = sum(hunt.tried.values())
    print(f"inputs tried: {total:,} in {sum(spent.values()):.0f} s")
    for target, tried in hunt.tried.items():
        rate = tried / spent[target] if spent.get(target) else 0.0
        print(f"  {target:10} {tried:9,}  ({rate:,.0f}/s)")
    kinds = Counter(key.split(" ", 1)[0] for key in codes)
    print(
        "distinct answers: "
        + ", ".join(f"{kinds[kind]} {kind}" for kind in sorted(kinds))
        + f" ({len(codes)} in all)"
    )
    for kind in ("http", "error", "close", "message"):
        seen = sorted(key.split(" ", 1)[1] for key in codes if key.startswith(kind))
        print(f"  {kind}: {' '.join(seen)}")
    lines = log.splitlines()
    tracebacks = sum("Traceback" in line for line in lines)
    print(
        f"tracebacks in the server log: {tracebacks} (seen while fuzzing: "
        f"{outcome.tracebacks_seen}); other failure lines: "
        f"{len(judge_log(lines)) - tracebacks}; exit status {outcome.status}"
    )
    if not hunt.found:
        print("failures: none")
    for found in sorted(hunt.found.values(), key=lambda f: (f.target, f.kind)):
        print(f"failure [{found.target}]: {found.kind}, {found.count} inputs")
        print(f"  {found.detail}")
        print(f"  minimized: {found.minimized}")


if __name__ == "__main__":
    sys.exit(main())
