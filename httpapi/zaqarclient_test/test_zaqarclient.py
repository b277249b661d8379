"""python-zaqarclient's own functional test cases, run against heraldd.

Debian's python3-zaqarclient ships the shared test case classes in
zaqarclient.tests.queues; upstream binds them to the HTTP transport in
tests/functional/queues/v2/. These thin subclasses do the same, with the
endpoint taken from ZAQAR_ENDPOINT (run.sh starts heraldd and sets it).
The pools and flavors cases create pools on mongodb://127.0.0.1:27017;
run.sh starts heraldd with --pools --admin --memory-pool-schemes mongodb,
so those are memory stores. heraldd, like Zaqar in noauth mode, answers
the admin routes (health, pools, flavors) only to requests that send
X-Roles: admin, so those cases send it and the others do not.
"""

import os

from zaqarclient.tests.queues import claims
from zaqarclient.tests.queues import flavor
from zaqarclient.tests.queues import health
from zaqarclient.tests.queues import pool
from zaqarclient.tests.queues import queues
from zaqarclient.tests.queues import subscriptions
from zaqarclient.transport import http

ENDPOINT = os.environ.get("ZAQAR_ENDPOINT", "http://127.0.0.1:8888")


class _Functional:
    is_functional = True
    transport_cls = http.HttpTransport
    url = ENDPOINT
    version = 2


class _AdminTransport(http.HttpTransport):
    """Sends X-Roles: admin, the role Zaqar's noauth mode reads from it."""

    def send(self, request):
        request.headers = dict(request.headers, **{"X-Roles": "admin"})
        return super().send(request)


class _Admin(_Functional):
    transport_cls = _AdminTransport


class TestQueuesHttp(_Functional, queues.QueuesV2QueueFunctionalTest):
    pass


class TestClaimsHttp(_Functional, claims.QueuesV2ClaimFunctionalTest):
    pass


class TestSubscriptionsHttp(_Functional, subscriptions.QueuesV2SubscriptionFunctionalTest):
    pass


class TestHealthHttp(_Admin, health.QueuesV2HealthFunctionalTest):
    pass


class TestPoolsHttp(_Admin, pool.QueuesV2PoolFunctionalTest):
    pass


class TestFlavorsHttp(_Admin, flavor.QueuesV2FlavorFunctionalTest):
    pass
