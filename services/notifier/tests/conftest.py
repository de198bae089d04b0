from __future__ import annotations

import pytest

from vitals_common.alerts import Alert

from notifier_fixtures import free_port, make_alert


@pytest.fixture
def alert() -> Alert:
    return make_alert()


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
