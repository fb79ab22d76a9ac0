"""Fixtures shared by the tests: a database of each backend, HAProxy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from pokerd.ops.settings import Database
from pokerd.tools.haproxy import haproxy_binary
from pokerd.tools.pgcluster import Cluster, server_binaries

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_cluster(postgres_binaries: Path) -> Iterator[Cluster]:
    """One PostgreSQL cluster for the whole session (started on first use).

    Without PostgreSQL's server installed the tests that need it are skipped,
    except under CI (CI set), where that is a failure: .ci/run installs it.
    """
    with Cluster(fsync=False) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def haproxy() -> Path:
    """Debian's haproxy binary, as for PostgreSQL: the tests that need it are
    skipped without it, except under CI (CI set), where that is a failure."""
    found = haproxy_binary()
    if found is None:
        missing("HAProxy is not installed (the haproxy package)")
    return found


@pytest.fixture(scope="session")
def postgres_binaries() -> Path:
    """PostgreSQL's server binaries, skipped or failed as HAProxy's."""
    found = server_binaries()
    if found is None:
        missing("PostgreSQL's server is not installed (the postgresql package)")
    return found


def missing(message: str) -> NoReturn:
    """Skip the test (fail it under CI, where .ci/run installs what it needs)."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}: .ci/run installs it")
    pytest.skip(message)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """Each backend in turn: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "pokerd.db"
    url: str = request.getfixturevalue("postgres_url")
    return url
