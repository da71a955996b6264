"""Who is counted: the caller's address behind the trusted proxies (TRUSTED_PROXY_COUNT)."""

import json

import pytest
from django.test import RequestFactory

from core.ratelimit import client_address
from reports.models import Report

pytestmark = pytest.mark.django_db

PROXY = "172.18.0.5"  # the compose file's reverse proxy, as the web container sees it
BODY = json.dumps(
    {"category": "signalisation", "lon": 3.01054, "lat": 50.480422, "description": "Panneau."}
)


def address(forwarded=None, remote=PROXY):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        # no proxy trusted: the header is the client's own words
        (0, "198.51.100.7", PROXY),
        # one proxy: the entry it appended, the rightmost
        (1, "198.51.100.7", "198.51.100.7"),
        (1, " 198.51.100.7 ", "198.51.100.7"),
        (1, "1.2.3.4, 5.6.7.8, 198.51.100.7", "198.51.100.7"),  # forged entries ignored
        (1, "1.2.3.4,198.51.100.7", "198.51.100.7"),
        # two proxies (a CDN, then ours): the entry the outer one appended
        (2, "1.2.3.4, 198.51.100.7, 203.0.113.1", "198.51.100.7"),
        # the outer proxy skipped: the only entry was written by ours
        (2, "198.51.100.7", "198.51.100.7"),
        # no header when a proxy is declared (a probe calling the container): the peer
        (1, None, PROXY),
        (1, "", PROXY),
        (1, " , ", PROXY),
        # garbage at the trusted place: never a fresh quota, the peer's
        (1, "1.2.3.4, not-an-address", PROXY),
        (1, "1.2.3.4, unknown", PROXY),
        (1, "1.2.3.4, 198.51.100.7/24", PROXY),
        (1, "1.2.3.4, <script>", PROXY),
        # ports, as some proxies write them: one client, whatever its source port
        (1, "198.51.100.7:51234", "198.51.100.7"),
        (1, "[2001:db8:1:2::7]:443", "2001:db8:1:2::/64"),
        # IPv6: a subscriber holds a /64, counted as one; IPv4-mapped as IPv4
        (1, "2001:db8:1:2::7", "2001:db8:1:2::/64"),
        (1, "2001:DB8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        (1, "2001:db8:1:3::7", "2001:db8:1:3::/64"),
        (1, "::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_client_address(settings, hops, forwarded, expected):
    settings.GRC_TRUSTED_PROXY_COUNT = hops
    assert address(forwarded) == expected


def test_without_a_proxy_ipv6_callers_are_counted_per_64(settings):
    settings.GRC_TRUSTED_PROXY_COUNT = 0
    assert address(remote="2001:db8::1") == address(remote="2001:db8::ffff:1") == "2001:db8::/64"
    assert address(remote="") == ""


def post(client, forwarded):
    return client.post(
        "/api/reports/",
        BODY,
        content_type="application/json",
        REMOTE_ADDR=PROXY,
        headers={"X-Forwarded-For": forwarded},
    )


def test_two_citizens_behind_the_proxy_each_have_their_quota(client, demo, settings):
    """Behind one trusted proxy (same REMOTE_ADDR), two citizens are two callers: five
    reports each a minute, and one who forges X-Forwarded-For entries gains nothing."""
    settings.GRC_TRUSTED_PROXY_COUNT = 1
    camille, dominique = "198.51.100.7", "203.0.113.9"
    assert [post(client, camille).status_code for _ in range(5)] == [201] * 5
    assert post(client, camille).status_code == 429
    # forged entries on the left, the proxy's own entry (the truth) on the right
    for forged in ("1.2.3.4", "203.0.113.9", "10.0.0.1, 10.0.0.2", "garbage"):
        assert post(client, f"{forged}, {camille}").status_code == 429
    assert [post(client, dominique).status_code for _ in range(5)] == [201] * 5
    assert post(client, dominique).status_code == 429
    assert Report.objects.count() == 10


def test_rotating_ipv6_addresses_in_one_64_gains_nothing(client, demo, settings):
    settings.GRC_TRUSTED_PROXY_COUNT = 1
    codes = [post(client, f"2001:db8:1:2::{n:x}").status_code for n in range(1, 8)]
    assert codes == [201] * 5 + [429] * 2


def test_a_changing_source_port_gains_nothing(client, demo, settings):
    settings.GRC_TRUSTED_PROXY_COUNT = 1
    codes = [post(client, f"198.51.100.7:{port}").status_code for port in range(40000, 40007)]
    assert codes == [201] * 5 + [429] * 2


@pytest.mark.parametrize(
    "times",
    [
        [0.0] * 5 + [1.0],  # a burst at the start of a window
        [50.0] * 5 + [59.0],  # late in it
        [59.9] * 5 + [60.1],  # straddling the boundary
        [10.0, 20.0, 30.0, 65.0, 70.0, 80.0, 85.0],  # spread over two windows
        [1.0, 2.0, 3.0, 61.0, 62.0, 63.0],
    ],
)
def test_retry_after_is_when_one_more_is_allowed(rf, monkeypatch, settings, times):
    """Retry-After is exact for the sliding window: one more is refused a second earlier and
    allowed then (nothing else counted meanwhile)."""
    from django.core.cache import cache

    from core import ratelimit

    settings.GRC_RATE_LIMITS = {"report": [(5, 60)]}
    request = rf.post("/api/reports/", REMOTE_ADDR="192.0.2.1")
    request.user = None
    start = 6_000_000.0

    def replay():
        cache.clear()
        refusal = None
        for t in times:
            monkeypatch.setattr(ratelimit, "_clock", lambda t=t: start + t)
            refusal = ratelimit.check(request, "report")
        return refusal

    refusal = replay()
    assert refusal is not None
    wait = refusal.retry_after
    refused_at = start + times[-1]
    if wait > 1:
        replay()
        monkeypatch.setattr(ratelimit, "_clock", lambda: refused_at + wait - 1)
        assert ratelimit.check(request, "report") is not None
    replay()
    monkeypatch.setattr(ratelimit, "_clock", lambda: refused_at + wait)
    assert ratelimit.check(request, "report") is None
