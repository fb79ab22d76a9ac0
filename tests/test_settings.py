"""The daemon's settings: defaults, config file, POKERD_* variables and flags."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from pokerd.cli import main
from pokerd.ops.settings import (
    DEFAULTS,
    Settings,
    SettingsError,
    database_name,
    field_help,
    is_postgresql,
    load_settings,
    switches,
)
from pokerd.server.app import create_app
from pokerd.server.live import LiveLimits
from pokerd.server.service import PokerService
from pokerd.store.connection import connect, open_database
from pokerd.store.log import EventStore
from pokerd.tables.hub import TableHub
from pokerd.tables.supervisor import Supervisor
from pokerd.tables.table import Table


def write_config(folder: Path, text: str, name: str = "pokerd.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_documented_values() -> None:
    settings = load_settings(environ={})

    assert settings == Settings()
    assert attrs.asdict(settings, recurse=False) == {
        "host": "127.0.0.1",
        "port": 8000,
        "live_port": None,
        "data_dir": Path("data"),
        "db": Path("data/pokerd.db"),
        "node_id": None,
        "advertise": None,
        "lease_ttl_s": 5.0,
        "cluster_routing": False,
        "synchronous": "FULL",
        "next_hand_delay_ms": 3000,
        "shutdown_grace_s": 5.0,
        "max_frame_bytes": 65536,
        "subscriber_queue": 256,
        "heartbeat_s": 5.0,
        "ping_interval_s": 20.0,
        "rate_limit_per_s": 20.0,
        "log_level": "INFO",
    }


LAYERS = [
    pytest.param("", {}, {}, {"port": 8000}, id="default"),
    pytest.param("port = 8001", {}, {}, {"port": 8001}, id="file over default"),
    pytest.param(
        "port = 8001",
        {"POKERD_PORT": "8002"},
        {},
        {"port": 8002},
        id="environment over file",
    ),
    pytest.param(
        "port = 8001",
        {"POKERD_PORT": "8002"},
        {"port": 8003},
        {"port": 8003},
        id="flag over environment",
    ),
    pytest.param(
        "port = 8001",
        {},
        {"port": 8003},
        {"port": 8003},
        id="flag over file",
    ),
    pytest.param(
        "port = 8001",
        {"POKERD_PORT": "8002"},
        {"port": None},
        {"port": 8002},
        id="a flag not given leaves the environment's value",
    ),
    pytest.param(
        'host = "0.0.0.0"\nheartbeat_s = 2\nlog_level = "DEBUG"',
        {"POKERD_HEARTBEAT_S": "0.5"},
        {"log_level": "WARNING"},
        {"host": "0.0.0.0", "heartbeat_s": 0.5, "log_level": "WARNING", "port": 8000},
        id="each key is taken from the highest layer that gives it",
    ),
    pytest.param(
        'synchronous = "NORMAL"\nshutdown_grace_s = 1',
        {"POKERD_SYNCHRONOUS": "full"},
        {},
        {"synchronous": "FULL", "shutdown_grace_s": 1.0},
        id="choices ignore case and ints are taken as floats",
    ),
    pytest.param(
        "",
        {"POKERD_DATA_DIR": "/srv/pokerd"},
        {},
        {"data_dir": Path("/srv/pokerd"), "db": Path("/srv/pokerd/pokerd.db")},
        id="the database follows the data folder",
    ),
    pytest.param(
        'db = "/var/lib/tables.db"',
        {"POKERD_DATA_DIR": "/srv/pokerd"},
        {},
        {"data_dir": Path("/srv/pokerd"), "db": Path("/var/lib/tables.db")},
        id="a database given in any layer wins over the data folder",
    ),
    pytest.param(
        "",
        {"POKERD_DB": "here.db"},
        {"db": Path("/flag.db")},
        {"db": Path("/flag.db")},
        id="flag path over environment path",
    ),
]


@pytest.mark.parametrize(("config", "environ", "flags", "expected"), LAYERS)
def test_each_layer_overrides_the_ones_before_it(
    tmp_path: Path,
    config: str,
    environ: dict[str, str],
    flags: dict[str, object],
    expected: dict[str, object],
) -> None:
    settings = load_settings(
        config_file=write_config(tmp_path, config), environ=environ, overrides=flags
    )

    assert {name: getattr(settings, name) for name in expected} == expected


BAD_VALUES = [
    pytest.param(
        "",
        {"POKERD_PORT": "abc"},
        {},
        "POKERD_PORT: expected an integer, got 'abc'",
        id="text for an integer",
    ),
    pytest.param(
        "port = 80.5",
        {},
        {},
        "{file}: port: expected an integer, got 80.5",
        id="float for an integer",
    ),
    pytest.param(
        "max_frame_bytes = true",
        {},
        {},
        "{file}: max_frame_bytes: expected an integer, got True",
        id="boolean for an integer",
    ),
    pytest.param(
        "",
        {},
        {"port": "http"},
        "--port: expected an integer, got 'http'",
        id="flag text for an integer",
    ),
    pytest.param(
        "",
        {"POKERD_PORT": "70000"},
        {},
        "POKERD_PORT: expected a port number 0 to 65535, got 70000",
        id="port out of range",
    ),
    pytest.param(
        "subscriber_queue = 0",
        {},
        {},
        "{file}: subscriber_queue: expected more than 0, got 0",
        id="size not positive",
    ),
    pytest.param(
        "",
        {},
        {"next_hand_delay_ms": -1},
        "--next-hand-delay-ms: expected 0 or more, got -1",
        id="negative delay",
    ),
    pytest.param(
        "",
        {"POKERD_HEARTBEAT_S": "nan"},
        {},
        "POKERD_HEARTBEAT_S: expected a number, got 'nan'",
        id="not a finite number",
    ),
    pytest.param(
        "",
        {"POKERD_RATE_LIMIT_PER_S": "1e400"},
        {},
        "POKERD_RATE_LIMIT_PER_S: expected a number, got '1e400'",
        id="a number too large",
    ),
    pytest.param(
        "",
        {"POKERD_SYNCHRONOUS": "OFF"},
        {},
        "POKERD_SYNCHRONOUS: expected one of 'FULL', 'NORMAL', got 'OFF'",
        id="not one of the choices",
    ),
    pytest.param(
        "host = 127",
        {},
        {},
        "{file}: host: expected a text, got 127",
        id="number for a text",
    ),
    pytest.param(
        "",
        {"POKERD_HOST": ""},
        {},
        "POKERD_HOST: expected a non-empty text, got ''",
        id="empty host",
    ),
    pytest.param(
        "db = 3",
        {},
        {},
        "{file}: db: expected a path, got 3",
        id="number for a path",
    ),
]


@pytest.mark.parametrize(("config", "environ", "flags", "message"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_the_layer_and_the_key(
    tmp_path: Path,
    config: str,
    environ: dict[str, str],
    flags: dict[str, object],
    message: str,
) -> None:
    path = write_config(tmp_path, config)

    with pytest.raises(SettingsError) as refused:
        load_settings(config_file=path, environ=environ, overrides=flags)

    assert str(refused.value) == message.format(file=path)


def test_an_unknown_key_in_the_config_file_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "prot = 9000")

    with pytest.raises(SettingsError) as refused:
        load_settings(config_file=path, environ={})

    assert str(refused.value) == f"{path}: prot: unknown setting; did you mean port?"


def test_a_nested_table_in_the_config_file_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server]\nport = 9000")

    with pytest.raises(SettingsError, match="server: unknown setting"):
        load_settings(config_file=path, environ={})


def test_an_unknown_pokerd_variable_is_refused() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(environ={"POKERD_PROT": "9000"})

    message = "POKERD_PROT: unknown setting; did you mean POKERD_PORT?"
    assert str(refused.value) == message


def test_a_lowercase_field_name_is_not_a_variable_name() -> None:
    with pytest.raises(SettingsError, match="POKERD_port: unknown setting"):
        load_settings(environ={"POKERD_port": "9000"})


def test_variables_without_the_prefix_are_ignored() -> None:
    settings = load_settings(environ={"PORT": "1", "HOST": "", "DB": "x.db"})

    assert settings == Settings()


def test_an_unknown_flag_is_refused() -> None:
    with pytest.raises(SettingsError, match="--verbose: unknown setting"):
        load_settings(environ={}, overrides={"verbose": True})


def test_the_environment_defaults_to_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POKERD_PORT", "9001")

    assert load_settings().port == 9001


def test_pokerd_config_names_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "port = 9002")

    settings = load_settings(environ={"POKERD_CONFIG": str(path)})

    assert settings.port == 9002


def test_a_config_file_given_as_argument_wins_over_pokerd_config(
    tmp_path: Path,
) -> None:
    ignored = write_config(tmp_path, "port = 9003", name="ignored.toml")
    chosen = write_config(tmp_path, "port = 9004", name="chosen.toml")

    settings = load_settings(
        config_file=chosen, environ={"POKERD_CONFIG": str(ignored)}
    )

    assert settings.port == 9004


def test_a_missing_config_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(SettingsError) as refused:
        load_settings(environ={"POKERD_CONFIG": str(missing)})

    assert str(refused.value).startswith(f"{missing}: cannot read the config file")


def test_a_config_file_that_is_not_toml_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "port: 9000")

    with pytest.raises(SettingsError) as refused:
        load_settings(config_file=path, environ={})

    assert str(refused.value).startswith(f"{path}: not a valid TOML file")


def test_a_relative_db_in_the_config_file_resolves_next_to_the_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write_config(folder, 'db = "tables/pokerd.db"')

    settings = load_settings(config_file=path, environ={})

    assert settings.db == folder / "tables" / "pokerd.db"


def test_a_relative_data_dir_in_the_config_file_resolves_next_to_the_file(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path, 'data_dir = "state"')

    settings = load_settings(config_file=path, environ={})

    assert settings.data_dir == tmp_path / "state"
    assert settings.db == tmp_path / "state" / "pokerd.db"


def test_an_absolute_db_in_the_config_file_is_kept(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'db = "/var/lib/pokerd.db"')

    assert load_settings(config_file=path, environ={}).db == Path("/var/lib/pokerd.db")


def test_relative_paths_from_environment_and_flags_are_left_to_the_working_directory(
    tmp_path: Path,
) -> None:
    path = write_config(tmp_path, 'db = "in-config.db"')

    from_environment = load_settings(config_file=path, environ={"POKERD_DB": "a.db"})
    from_flag = load_settings(
        config_file=path, environ={}, overrides={"data_dir": "var"}
    )

    assert from_environment.db == Path("a.db")
    assert from_flag.data_dir == Path("var")
    assert from_flag.db == tmp_path / "in-config.db"


URL = "postgresql://pokerd@db.internal:5432/pokerd"


def test_a_postgresql_url_is_kept_as_it_is_from_every_layer(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'db = "{URL}"')

    from_file = load_settings(config_file=path, environ={})
    from_environment = load_settings(environ={"POKERD_DB": URL})
    from_flag = load_settings(environ={"POKERD_DB": "a.db"}, overrides={"db": URL})

    # Text, not a Path: a Path would fold `//` and join it to the file's folder.
    assert from_file.db == from_environment.db == from_flag.db == URL
    assert isinstance(from_file.db, str)
    assert is_postgresql(from_file.db)
    assert not is_postgresql(load_settings(environ={"POKERD_DB": "pg.db"}).db)


def test_a_postgresql_url_is_named_without_its_password() -> None:
    assert (
        database_name("postgresql://pokerd:s3cret@db:5432/pokerd")
        == "postgresql://pokerd:***@db:5432/pokerd"
    )
    assert database_name(URL) == URL
    assert database_name(Path("data/pokerd.db")) == "data/pokerd.db"


def test_a_home_relative_path_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/dealer")

    settings = load_settings(environ={"POKERD_DB": "~/pokerd.db"})

    assert settings.db == Path("/home/dealer/pokerd.db")


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_the_live_stream_gets_a_port_of_its_own_only_when_one_is_given(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, "live_port = 0\n")

    assert load_settings(environ={}).live_port is None
    assert load_settings(environ={"POKERD_LIVE_PORT": "8001"}).live_port == 8001
    assert load_settings(environ={}, overrides={"live_port": "9001"}).live_port == 9001
    assert load_settings(config_file=config, environ={}).live_port == 0
    with pytest.raises(SettingsError, match="--live-port: expected a port number"):
        load_settings(environ={}, overrides={"live_port": "70000"})


def test_settings_built_directly_check_their_ranges() -> None:
    with pytest.raises(ValueError, match="port: expected a port number"):
        Settings(port=-1)


def test_every_setting_has_a_help_text() -> None:
    texts = field_help()

    assert set(texts) == set(attrs.fields_dict(Settings))
    assert all(texts.values())
    assert texts["port"] == (
        "TCP port of the web page, the HTTP API and the WebSocket live stream "
        "(0 picks a free one). Default: 8000."
    )


@pytest.mark.parametrize("field", attrs.fields(Settings), ids=lambda field: field.name)
def test_every_field_carries_its_help_in_its_metadata(
    field: attrs.Attribute[object],
) -> None:
    help_text = field.metadata.get("help")

    assert isinstance(help_text, str)
    assert help_text[:1].isupper()
    assert help_text.endswith(".")
    assert field_help()[field.name].startswith(help_text)


def test_the_help_shows_each_fixed_default_and_not_the_computed_one() -> None:
    texts = field_help()

    assert texts["next_hand_delay_ms"].endswith(
        f" Default: {DEFAULTS.next_hand_delay_ms}."
    )
    assert texts["heartbeat_s"].endswith(" Default: 5.")
    assert texts["synchronous"].endswith(" Default: FULL.")
    assert "Default:" not in texts["db"]  # it follows data_dir
    assert "Default:" not in texts["live_port"]  # unset: its help says what then


CONSTRUCTOR_DEFAULTS = [
    pytest.param(Table.__init__, "next_hand_delay_ms", id="Table"),
    pytest.param(Supervisor.__init__, "next_hand_delay_ms", id="Supervisor"),
    pytest.param(PokerService.__init__, "next_hand_delay_ms", id="PokerService"),
    pytest.param(
        PokerService.__init__,
        "subscriber_queue",
        id="PokerService subscriber_queue",
    ),
    pytest.param(TableHub.__init__, ("capacity", "subscriber_queue"), id="TableHub"),
    pytest.param(LiveLimits, "max_frame_bytes", id="LiveLimits max_frame_bytes"),
    pytest.param(LiveLimits, "heartbeat_s", id="LiveLimits heartbeat_s"),
    pytest.param(LiveLimits, "ping_interval_s", id="LiveLimits ping_interval_s"),
    pytest.param(LiveLimits, "rate_limit_per_s", id="LiveLimits rate_limit_per_s"),
    pytest.param(create_app, ("max_body_bytes", "max_frame_bytes"), id="create_app"),
    pytest.param(EventStore.__init__, "synchronous", id="EventStore"),
    pytest.param(open_database, "synchronous", id="open_database"),
    pytest.param(connect, "synchronous", id="connect"),
]


@pytest.mark.parametrize(("constructor", "names"), CONSTRUCTOR_DEFAULTS)
def test_a_constructor_defaults_to_the_settings_default(
    constructor: Callable[..., object], names: str | tuple[str, str]
) -> None:
    parameter, setting = (names, names) if isinstance(names, str) else names

    default = inspect.signature(constructor).parameters[parameter].default

    assert default == getattr(DEFAULTS, setting)


def test_the_protocol_docs_give_the_limits_their_settings_defaults() -> None:
    text = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text("utf-8")
    limits = text.split("### Limits", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", limits, flags=re.MULTILINE)

    documented = {name: value.strip() for name, value in rows}
    assert documented, "no limits table under '### Limits' in docs/protocol.md"
    assert documented == {name: str(getattr(DEFAULTS, name)) for name in documented}


def test_serve_help_gives_every_setting_a_flag_with_its_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])

    shown = " ".join(capsys.readouterr().out.split())
    assert exited.value.code == 0
    for name, text in field_help().items():
        flag = name.replace("_", "-")
        if name in switches():  # on or off: no value, and a --no- form
            assert f"--{flag}, --no-{flag} {text}" in shown
        else:
            assert f"--{flag} {name.upper()} {text}" in shown


def test_cluster_routing_is_a_switch_in_every_layer(tmp_path: Path) -> None:
    config = tmp_path / "pokerd.toml"
    config.write_text("cluster_routing = true\n")
    assert switches() == {"cluster_routing"}
    assert load_settings(config_file=config, environ={}).cluster_routing is True
    for text, value in [("true", True), ("1", True), ("off", False), ("No", False)]:
        environ = {"POKERD_CLUSTER_ROUTING": text}
        assert load_settings(environ=environ).cluster_routing is value
    with pytest.raises(SettingsError, match="POKERD_CLUSTER_ROUTING: expected true"):
        load_settings(environ={"POKERD_CLUSTER_ROUTING": "maybe"})
    with pytest.raises(SettingsError, match="cluster_routing: expected true"):
        config.write_text("cluster_routing = 1\n")
        load_settings(config_file=config, environ={})
    environ = {"POKERD_CLUSTER_ROUTING": "true"}
    flags = {"cluster_routing": False}
    assert load_settings(environ=environ, overrides=flags).cluster_routing is False
