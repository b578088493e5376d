"""Fixtures every folder may use: the clusters the Elasticsearch store is tested against (tests/store/clusters.py),
and a PostgreSQL server for the alert state (tests/postgres.py). Imported when asked for, so that tests of other
stages never load the Elasticsearch client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import settings
    from tests.postgres import PostgresServer
    from tests.store.clusters import Cluster


@pytest.fixture(scope="session")
def osmem() -> Iterator[Cluster]:
    """One osmem-server for the whole session, on a free port of 127.0.0.1; each test has indices of its own."""
    from tests.store.clusters import Cluster, PlainJsonNode, free_port, osmem_binary_or_skip

    start = osmem_binary_or_skip()
    server = start(addr=f"127.0.0.1:{free_port()}", japanese=False)
    yield Cluster(server.url, PlainJsonNode)
    server.close()


def cluster_named(request: pytest.FixtureRequest, name: str) -> Cluster:
    """"osmem", or "elasticsearch": the real cluster at $YUQING_ES_URL (the test skips, saying so, without one)."""
    from tests.store.clusters import real_cluster_or_skip

    return request.getfixturevalue("osmem") if name == "osmem" else real_cluster_or_skip()


def set_up(cluster: Cluster, request: pytest.FixtureRequest) -> settings.Store:
    """A [store] section with an index prefix of its own, set up as `yuqing es setup` does; dropped after the test."""
    from store.elastic.layout import setup

    section = cluster.section()
    request.addfinalizer(lambda: cluster.drop(section.index_prefix))
    with cluster.connect(section) as client:
        setup(client, section)
    return section


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Cluster:
    """osmem, unless a test asks for both clusters (parametrize "cluster" indirectly)."""
    return cluster_named(request, getattr(request, "param", "osmem"))


@pytest.fixture
def es_section(cluster: Cluster, request: pytest.FixtureRequest) -> settings.Store:
    return set_up(cluster, request)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole session, on a free port of 127.0.0.1, with a password; each
    test takes a database of its own (postgres_url). Skips, saying why, without the server's binaries."""
    from tests.postgres import PostgresServer

    server = PostgresServer.start(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database on the session's PostgreSQL server, dropped after the test."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)
