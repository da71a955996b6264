"""Rate limits, counted in Redis (the Django cache): a sliding window per caller and scope.

A sliding window per caller (the address the request came from, and the account when signed
in), estimated from the counts of the current and the previous fixed window. Writes (report
submissions, "me too", sign-ups) have two tiers:

- ``"attempt"``: every write attempt, and reading a photo's position, counted *before any work*
  (a photo is decoded, a form validated): a flood costs a few cache round trips per request;
- ``"report"``, ``"signup"``: what is actually stored, counted with ``count()`` *after* the
  write inside its transaction, which is undone when over the limit. A citizen correcting a
  form does not use up their submissions.

Exceeding either gives a 429 with ``Retry-After`` (``refused()``); nothing is stored. ``take()``
is the counter under both, for rules of other kinds: counted before the work, given back when
not due (``Ticket.release()``); the account rules (logins, password resets, verification
links) are written with it in accounts.throttle.

Every counter fails open (core.failopen): with Redis unreachable a request is allowed, the
outage is logged and shown by /healthz; a report is stored and its mail leaves once Redis is
back.

The caller's address (``client_address()``) is REMOTE_ADDR, or X-Forwarded-For read from the
right when the settings trust proxies in front of the portal (TRUSTED_PROXY_COUNT).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import failopen


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    message: str


def client_address(request) -> str:
    """Who is calling, as a rate-limit key: an IPv4 address, or the /64 of an IPv6 one.

    REMOTE_ADDR, unless the settings trust ``GRC_TRUSTED_PROXY_COUNT`` proxies in front of the
    portal. Each of them appends the address it received the request from to X-Forwarded-For,
    so the entry that many places from the right is the client as the outermost trusted proxy
    saw it; the entries left of it were written by the client and are ignored (forging some
    gives no fresh quota). Fewer entries than trusted proxies: the request skipped the outer
    ones, and the leftmost entry, written by a trusted one, is the client. No header (a probe
    calling the container directly) or an entry that is not an IP address: REMOTE_ADDR.

    Entries are checked with ``ipaddress`` (spaces, ``[v6]:port`` and ``v4:port`` accepted).
    An IPv6 subscriber usually holds a whole /64, so it is counted as one; an IPv4-mapped IPv6
    address is counted as its IPv4 address.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.GRC_TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if entries:
            address = _ip(entries[-hops] if len(entries) >= hops else entries[0])
            if address is not None:
                return _bucket(address)
    address = _ip(remote)
    return _bucket(address) if address is not None else remote[:64]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1] or [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _bucket(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


_clock = time.time  # replaced in tests


def _take(key: str, limit: Limit, *, kept: bool = True) -> tuple[int | None, str | None]:
    """Count one more: (seconds to wait if over the limit, else None; the cache key counted,
    for ``Ticket.release()``, None if not counted). When Redis cannot be reached the limit
    fails open (core.failopen). ``kept=False``: a refused try will be given back, the wait is
    reckoned without it."""
    return failopen.cache.call(lambda: _count(key, limit, kept=kept), (None, None))


def _count(key: str, limit: Limit, *, kept: bool = True) -> tuple[int | None, str]:
    """A sliding window, estimated from two fixed ones (the current window's count plus the
    previous window's, weighted by how much of it still overlaps the last ``seconds``): a burst
    straddling a window boundary is counted whole, as a fixed window would not.
    """
    now = _clock()
    window, into = divmod(now, limit.seconds)
    current = f"rl:{key}:{limit.seconds}:{int(window)}"
    previous = f"rl:{key}:{limit.seconds}:{int(window) - 1}"
    if cache.add(current, 1, timeout=2 * limit.seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(current)
        except ValueError:  # expired between add and incr
            cache.add(current, 1, timeout=2 * limit.seconds + 1)
            count = 1
    before = cache.get(previous) or 0
    if count + before * (1 - into / limit.seconds) > limit.count:
        return _retry_after(count if kept else count - 1, before, into, limit), current
    return None, current


def _retry_after(count: int, before: int, into: float, limit: Limit) -> int:
    """Seconds until one more would be allowed, if nothing else is counted meanwhile: while
    the previous window's weight fades (``count + 1 + before * (1 - t / seconds)``), or else
    in the next window, where this one's ``count`` fades in turn."""
    seconds, allowed = limit.seconds, limit.count
    if count + 1 <= allowed and before:
        at = seconds * (1 - (allowed - count - 1) / before)
        if at < seconds:
            return _seconds(at - into)
    at = seconds * (1 - (allowed - 1) / count) if count > max(allowed - 1, 0) else 0.0
    return _seconds(seconds - into + at)


def _seconds(value: float) -> int:
    return max(1, math.ceil(round(value, 6)))  # 20.000000000000004 is 20


def _digest(who: str) -> str:
    """Addresses and emails are not kept in clear in the cache, nor as a bare hash that a list
    of addresses would reverse: keyed with the SECRET_KEY."""
    return salted_hmac("core.ratelimit", who).hexdigest()[:20]


def _period(seconds: int) -> str:
    if seconds == 60:
        return _("une minute")
    if seconds == 3600:
        return _("une heure")
    if seconds < 60 or seconds % 60:
        return ngettext("%(n)d seconde", "%(n)d secondes", seconds) % {"n": seconds}
    return ngettext("%(n)d minute", "%(n)d minutes", seconds // 60) % {"n": seconds // 60}


def wait_in_words(seconds: int) -> str:
    """How long to wait, in words: seconds under two minutes, else minutes rounded up."""
    if seconds < 120:
        return ngettext("%(n)d seconde", "%(n)d secondes", seconds) % {"n": seconds}
    minutes = -(-seconds // 60)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


def check(
    request, scope: str, *, kept: bool = True, also: Sequence[tuple[str, str]] = ()
) -> Refusal | None:
    """Count a write of ``scope`` ("attempt", "report", "signup") for this caller, and each
    ``(scope, who)`` of ``also``; a Refusal if too many. ``kept=False``: a refused one is given
    back (``count()``: it is not stored)."""
    counters = [(scope, f"ip:{client_address(request)}")]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        counters.append((scope, f"user:{user.pk}"))
    return take([*counters, *also], _writes_refused, kept=kept).refusal


def _writes_refused(wait: int, limit: Limit) -> str:
    return _("Trop d'envois : au plus %(count)s en %(period)s. Réessayez dans %(wait)s.") % {
        "count": limit.count,
        "period": _period(limit.seconds),
        "wait": wait_in_words(wait),
    }


class TooMany(Exception):
    """Raised by count(): the write just made in this transaction is one too many."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def count(request, scope: str, *, also: Sequence[tuple[str, str]] = ()) -> None:
    """check(), raising TooMany: called after a write inside ``transaction.atomic()``, so that
    only what is stored is counted: a write over the limit is rolled back and given back (on
    every counter), and its Retry-After is when the next one will be stored."""
    refusal = check(request, scope, kept=False, also=also)
    if refusal is not None:
        raise TooMany(refusal)


def refused(response, refusal: Refusal):
    """The response as a 429 with its Retry-After."""
    response.status_code = 429
    response["Retry-After"] = str(refusal.retry_after)
    return response


# --- Counters taken before the work, given back when not due ---------------------------------


@dataclass
class Ticket:
    """Counts taken by ``take()``: kept (a failed login) or given back (``release()``)."""

    keys: list[str] = field(default_factory=list)
    refusal: Refusal | None = None

    def release(self) -> None:
        keys, self.keys = self.keys, []
        if keys:
            failopen.cache.call(lambda: _uncount(keys), None)


def _uncount(keys: list[str]) -> None:
    for key in keys:
        with contextlib.suppress(ValueError):  # expired meanwhile
            cache.decr(key)


def take(
    counters: Sequence[tuple[str, str]],
    message: Callable[[int, Limit], str],
    *,
    kept: bool = False,
) -> Ticket:
    """Count one more on each ``(scope, who)`` against every limit of its scope.

    Counted *before* the work, so that parallel tries cannot all slip under a limit. Over one,
    the counts just taken are given back (a refused try does not prolong the wait; ``kept``:
    they stay, as a flood's attempts do) and the ticket carries the refusal, its message from
    ``message(seconds to wait, the limit exceeded)``.
    """
    ticket = Ticket()
    for scope, who in counters:
        for raw in settings.GRC_RATE_LIMITS[scope]:
            limit = Limit(*raw)
            wait, key = _take(f"{scope}:{_digest(who)}", limit, kept=kept)
            if key is not None:
                ticket.keys.append(key)
            if wait is not None:
                if not kept:
                    ticket.release()
                ticket.refusal = Refusal(retry_after=wait, message=message(wait, limit))
                return ticket
    return ticket
