"""The daemon's settings, layered: defaults < config file < POKERD_* < flags.

Every default of pokerd lives here, once, and other modules take it from
`DEFAULTS`; so this module imports nothing from pokerd and any layer may read
it (docs/design.md, Settings).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Synchronous = Literal["FULL", "NORMAL"]
"""SQLite's durability: FULL fsyncs every commit, so a committed event survives
a power cut. NORMAL fsyncs only at checkpoints: it survives a crash of pokerd
but may lose the last commits on a power cut, for much cheaper commits."""

ENV_PREFIX = "POKERD_"
CONFIG_VARIABLE = "POKERD_CONFIG"
"""Names the config file when none is given on the command line."""
NOT_SETTINGS = frozenset({CONFIG_VARIABLE})
"""POKERD_ variables that are not settings, so not refused as typos."""
DB_NAME = "pokerd.db"
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")

Database = Path | str
"""Where the event log is: an SQLite file (a Path), or a PostgreSQL URL
(`postgresql://...`, kept as text: a Path would fold its `//`)."""


def is_postgresql(database: Database) -> bool:
    """Whether `database` names a PostgreSQL database rather than an SQLite file."""
    return isinstance(database, str) and database.startswith(POSTGRESQL_SCHEMES)


def database_name(database: Database) -> str:
    """`database` for a message: the path, or the URL without its password."""
    if not is_postgresql(database):
        return str(database)
    text = str(database)
    scheme, _, rest = text.partition("://")
    credentials, at, place = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{place}"


Check = Callable[[Any], str | None]
"""A field's range check: None when the value is fine, else what was expected."""
_CHECK = "pokerd.ops.settings.check"
_HELP = "help"
"""The metadata key of a field's `--help` text."""


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the layer and the key."""


def _validator(check: Check) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        problem = check(value)
        if problem is not None:
            raise ValueError(f"{attribute.name}: {problem}")

    return validate


def _setting(default: object, help: str, check: Check) -> Any:
    """A field with its default, its `--help` text and its range check."""
    return attrs.field(
        default=default,
        validator=_validator(check),
        metadata={_HELP: help, _CHECK: check},
    )


def _port(value: int) -> str | None:
    if 0 <= value <= 65535:
        return None
    return f"expected a port number 0 to 65535, got {value!r}"


def _optional_port(value: int | None) -> str | None:
    return None if value is None else _port(value)


def _positive(value: float) -> str | None:
    return None if value > 0 else f"expected more than 0, got {value!r}"


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else f"expected 0 or more, got {value!r}"


def _not_empty(value: str) -> str | None:
    return None if value else "expected a non-empty text, got ''"


def _http_url(value: str) -> str | None:
    if value.startswith("http://") and len(value) > len("http://"):
        return None
    return f"expected http://HOST:PORT, got {value!r}"


@attrs.frozen(kw_only=True)
class Settings:
    """Everything `pokerd serve` reads at start-up; see `load_settings`.

    Each field's default is the one pokerd uses wherever the setting is not
    given (constructors default to `DEFAULTS`), and its `help` is its flag's
    `--help` text.
    """

    host: str = _setting(
        "127.0.0.1", "Address to listen on (0.0.0.0 for every interface).", _not_empty
    )
    port: int = _setting(
        8000,
        "TCP port of the web page, the HTTP API and the WebSocket live stream "
        "(0 picks a free one).",
        _port,
    )
    live_port: int | None = _setting(
        None,
        "TCP port of a listener of its own for the WebSocket live stream, on the "
        "same host (0 picks a free one). Unset (the default), the stream is "
        "served on port, with the page and the API.",
        _optional_port,
    )
    data_dir: Path = attrs.field(
        default=Path("data"),
        metadata={
            _HELP: "Folder for pokerd's files; the database is pokerd.db in it "
            "unless db is given."
        },
    )
    db: Database = attrs.field(
        metadata={
            _HELP: "The event log: an SQLite file (default: pokerd.db in "
            "data_dir), or a PostgreSQL database, postgresql://USER@HOST:PORT/NAME, "
            "which several pokerd nodes may share."
        }
    )
    node_id: str | None = _setting(
        None,
        "This node's name in the table leases (PostgreSQL). Unset (the default), "
        "a new one at each start: HOSTNAME-PID-RANDOM.",
        lambda value: None if value is None else _not_empty(value),
    )
    advertise: str | None = _setting(
        None,
        "The base URL other nodes send clients to for the tables this node runs "
        "(PostgreSQL), http://HOST:PORT. Unset (the default), the address it "
        "listens on.",
        lambda value: None if value is None else _http_url(value),
    )
    lease_ttl_s: float = _setting(
        5.0,
        "Seconds a table's lease lasts unless renewed (PostgreSQL): a dead "
        "node's tables are taken over within about this long.",
        _positive,
    )
    cluster_routing: bool = _setting(
        False,
        "Place each table where a cluster's router (HAProxy, `pokerd cluster`) "
        "sends it (PostgreSQL): on the first node of its slot's ranking among "
        "the nodes up, handing tables over as nodes come and go. Off, a node "
        "runs whatever tables it is asked for or finds free.",
        lambda value: None,
    )
    synchronous: Synchronous = attrs.field(
        default="FULL",
        metadata={
            _HELP: "SQLite durability: FULL survives a power cut, NORMAL only a "
            "crash of pokerd, for cheaper commits."
        },
    )
    next_hand_delay_ms: int = _setting(
        3000,
        "Pause between the end of a hand and the start of the next, in milliseconds.",
        _not_negative,
    )
    shutdown_grace_s: float = _setting(
        5.0,
        "Seconds given to connections and tables to finish on shutdown.",
        _not_negative,
    )
    max_frame_bytes: int = _setting(
        65536,
        "Largest WebSocket message (and HTTP body) accepted from a client, in bytes.",
        _positive,
    )
    subscriber_queue: int = _setting(
        256,
        "Messages buffered for a subscriber before it is dropped as too slow.",
        _positive,
    )
    heartbeat_s: float = _setting(
        5.0,
        "Seconds a WebSocket has to answer a ping, to say hello once connected, "
        "and that one send to it may block.",
        _positive,
    )
    ping_interval_s: float = _setting(
        20.0,
        "Seconds a WebSocket may stay quiet before the server pings it (keep it "
        "below a proxy's read timeout).",
        _positive,
    )
    rate_limit_per_s: float = _setting(
        20.0,
        "Messages per second a WebSocket may send (in bursts of as many); the "
        "rest are refused with the error rate_limited.",
        _positive,
    )
    log_level: LogLevel = attrs.field(
        default="INFO",
        metadata={
            _HELP: "Least severe log level written: DEBUG, INFO, WARNING, ERROR "
            "or CRITICAL."
        },
    )

    @db.default
    def _db_in_data_dir(self) -> Path:
        return self.data_dir / DB_NAME


attrs.resolve_types(Settings)
_FIELDS: dict[str, attrs.Attribute[Any]] = attrs.fields_dict(Settings)
_VARIABLES = {ENV_PREFIX + name.upper(): name for name in _FIELDS}

DEFAULTS = Settings()
"""The default of every setting: what the code uses where none is given."""


def switches() -> frozenset[str]:
    """The settings that are on or off: flags without a value on the command
    line (`--cluster-routing`, `--no-cluster-routing`)."""
    return frozenset(name for name, field in _FIELDS.items() if field.type is bool)


def field_help() -> dict[str, str]:
    """Each setting's `--help` text by field name: what it is, and its default
    when that is a fixed value."""
    texts: dict[str, str] = {}
    for name, field in _FIELDS.items():
        text: str = field.metadata[_HELP]
        # A Factory computes the default (db's follows data_dir), and an unset
        # one (live_port's) means something: their help says it.
        computed = isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
        if not computed and field.default is not None:
            text += f" Default: {_shown(field.default)}."
        texts[name] = text
    return texts


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# Values from every layer go through these hooks. Text is parsed (environment
# variables are always text), native TOML and flag values are taken as they
# are when of the right type; anything else is refused with what was expected.


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _structure_float(value: object, _: type) -> float:
    number = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError):
            number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a number, got {value!r}")
    return number


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def _structure_str(value: object, _: type) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a text, got {value!r}")


def _structure_path(value: object, _: type) -> Path:
    if isinstance(value, os.PathLike | str) and os.fspath(value):
        return Path(value).expanduser()
    raise ValueError(f"expected a path, got {value!r}")


def _structure_database(value: object, _: type) -> Database:
    if isinstance(value, str) and value.startswith(POSTGRESQL_SCHEMES):
        return value
    return _structure_path(value, Path)


def _is_literal(cls: Any) -> bool:
    return get_origin(cls) is Literal


def _structure_choice(value: object, cls: Any) -> str:
    choices: tuple[str, ...] = get_args(cls)
    if isinstance(value, str):
        for choice in choices:
            if value.upper() == choice.upper():
                return choice
    expected = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"expected one of {expected}, got {value!r}")


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(Path, _structure_path)
    converter.register_structure_hook(Database, _structure_database)
    converter.register_structure_hook_func(_is_literal, _structure_choice)
    return converter


_converter = _make_converter()


@attrs.frozen
class _Layer:
    values: Mapping[str, object]
    """Raw values by field name."""
    label: Callable[[str], str]
    """How a field is named in this layer, for messages."""
    folder: Path | None = None
    """What relative paths are relative to (None: the working directory)."""


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """The defaults, overridden by the config file, then by the environment's
    `POKERD_<FIELD>` variables, then by `overrides` (the command-line flags by
    field name; None means not given).

    The config file is `config_file`, else the one `POKERD_CONFIG` names, else
    none. It is a flat TOML table of field names; relative paths in it are
    relative to its folder, elsewhere to the working directory. Unknown keys
    and variables, values of the wrong type and out-of-range values raise
    `SettingsError` naming the layer and the key.
    """
    environ = os.environ if environ is None else environ
    variables = {
        key: value for key, value in environ.items() if key.startswith(ENV_PREFIX)
    }
    if config_file is None and CONFIG_VARIABLE in variables:
        config_file = _structure(Path, variables[CONFIG_VARIABLE], CONFIG_VARIABLE)

    layers: list[_Layer] = []
    if config_file is not None:
        layers.append(_file_layer(config_file))
    layers.append(_environment_layer(variables))
    if overrides is not None:
        layers.append(_flags_layer(overrides))

    chosen: dict[str, Any] = {}
    for layer in layers:
        for name, raw in layer.values.items():
            chosen[name] = _convert(layer, name, raw)
    return Settings(**chosen)


def _file_layer(path: Path) -> _Layer:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        reason = error.strerror or str(error)
        raise SettingsError(f"{path}: cannot read the config file: {reason}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: not a valid TOML file: {error}") from None
    for key in document:
        if key not in _FIELDS:
            raise SettingsError(f"{path}: {key}: unknown setting{_hint(key, _FIELDS)}")
    return _Layer(document, lambda name: f"{path}: {name}", folder=path.parent)


def _environment_layer(variables: Mapping[str, str]) -> _Layer:
    values: dict[str, object] = {}
    for key, value in variables.items():
        if key in _VARIABLES:
            values[_VARIABLES[key]] = value
        elif key not in NOT_SETTINGS:
            raise SettingsError(f"{key}: unknown setting{_hint(key, _VARIABLES)}")
    return _Layer(values, lambda name: ENV_PREFIX + name.upper())


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _flags_layer(overrides: Mapping[str, object]) -> _Layer:
    for key in overrides:
        if key not in _FIELDS:
            raise SettingsError(f"{_flag(key)}: unknown setting")
    values = {key: value for key, value in overrides.items() if value is not None}
    return _Layer(values, _flag)


def _hint(key: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _structure(cls: Any, raw: object, label: str) -> Any:
    try:
        return _converter.structure(raw, cls)
    except (ValueError, TypeError) as error:
        raise SettingsError(f"{label}: {error}") from None


def _convert(layer: _Layer, name: str, raw: object) -> Any:
    field = _FIELDS[name]
    value = _structure(field.type, raw, layer.label(name))
    check: Check | None = field.metadata.get(_CHECK)
    problem = None if check is None else check(value)
    if problem is not None:
        raise SettingsError(f"{layer.label(name)}: {problem}")
    if isinstance(value, Path) and layer.folder is not None:
        value = layer.folder / value  # an absolute value stays as it is
    return value
