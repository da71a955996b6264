"""Reading settings from the environment (12-factor), with one-line errors.

Values come from the process environment first, then from an optional env file
(``.local/env``, written by ``scripts/bootstrap.sh`` with the database and Redis it found or
started), so that ``manage.py`` works in a shell without re-exporting them.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load_env_file(path: Path) -> None:
    """Put KEY=VALUE lines of ``path`` into os.environ, never overriding what is already set."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def site_url_problem(url: str, allowed_hosts: list[str]) -> str | None:
    """Why ``url`` cannot be a production portal's public address, SITE_URL (None: it can).

    Links in mails are built on it outside any request, so it must be an https address of a
    host the portal serves (``allowed_hosts``), never a local one, and nothing a path could not
    follow (``core.links.site_url`` appends the path to it): no query, fragment, or user and
    password.
    """
    import ipaddress
    from urllib.parse import urlsplit

    from django.http.request import validate_host

    example = "export SITE_URL=https://portail.libercourt.fr (the portal's public address)"
    if not url:
        return f"SITE_URL is not set: {example}, or DEBUG=1 for development."
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        host = ""
    if not url.lower().startswith("https://") or not host:
        return f"SITE_URL={url!r} is not an https:// address: {example}."
    if "?" in url or "#" in url or "@" in parts.netloc:
        return (
            f"SITE_URL={url!r} has a query, a fragment, or a user and password: links are made "
            f"by appending a path to it, {example}."
        )
    try:
        address = ipaddress.ip_address(host)
        local = address.is_loopback or address.is_unspecified
    except ValueError:
        local = host == "localhost" or host.endswith(".localhost")
    if local:
        return f"SITE_URL={url!r} is a local address, unreachable from a mail: {example}."
    if not validate_host(host, allowed_hosts):
        return (
            f"SITE_URL={url!r}: its host {host!r} is not in ALLOWED_HOSTS "
            f"({','.join(allowed_hosts)}): add it, or the portal refuses its own links."
        )
    return None
