"""``Idempotency-Key`` for API writes: the same key replays the first answer, exactly once.

Flow, inside one transaction: claim the key with ``INSERT … ON CONFLICT DO NOTHING``. A
concurrent request with the same key blocks on the unique index until the first commits, then
finds its row and replays it; if the first failed, its claim rolled back with it and the retry
runs afresh. The same key with another body is refused (422), as the IETF draft says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from .models import IdempotentRequest

HEADER = "Idempotency-Key"
MIN_LENGTH, MAX_LENGTH = 16, 128


class KeyReused(APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = (
        "Cette clé Idempotency-Key a déjà servi pour une autre requête : "
        "utilisez une nouvelle clé pour un nouveau signalement."
    )


def caller_scope(principal: Any) -> str:
    from accounts.models import ApiToken

    if isinstance(principal, ApiToken):
        return f"token:{principal.pk}"
    if getattr(principal, "is_authenticated", False):
        return f"user:{principal.pk}"
    return "anonymous"


def body_digest(data: Any) -> str:
    """Digest of the parsed body (key order and whitespace do not matter)."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not (MIN_LENGTH <= len(key) <= MAX_LENGTH) or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {
                HEADER: f"La clé doit faire {MIN_LENGTH} à {MAX_LENGTH} caractères ASCII "
                "(un UUID par exemple)."
            }
        )
    return key


def is_replay(request, principal: Any) -> bool:
    """Whether this request retries a key already answered (a replay costs nothing: it is not
    counted by the rate limits)."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return False
    return IdempotentRequest.objects.filter(
        scope=caller_scope(principal), key=key, status_code__gt=0
    ).exists()


def run_once(
    *, request, principal: Any, endpoint: str, data: Any, write: Callable[[], Response]
) -> Response:
    """Run ``write`` (which returns the Response to give) once per key; replay it afterwards."""
    key = read_key(request)
    if key is None:
        return write()
    scope, digest = caller_scope(principal), body_digest(data)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO core_idempotentrequest "
                "(scope, key, endpoint, body_digest, status_code, response, created_at) "
                "VALUES (%s, %s, %s, %s, 0, 'null'::jsonb, %s) "
                "ON CONFLICT (scope, key) DO NOTHING RETURNING id",
                [scope, key, endpoint, digest, timezone.now()],
            )
            claimed = cursor.fetchone()
        if claimed is None:
            previous = IdempotentRequest.objects.get(scope=scope, key=key)
            if previous.body_digest != digest or previous.endpoint != endpoint:
                raise KeyReused()
            replay = Response(previous.response, status=previous.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = write()
        if response.status_code >= 400:
            # Nothing was written: give the key back so that a corrected retry can use it.
            transaction.set_rollback(True)
            return response
        IdempotentRequest.objects.filter(pk=claimed[0]).update(
            status_code=response.status_code, response=response.data
        )
        return response


KEEP_FOR_HOURS = 48


def purge_expired() -> int:
    """Forget keys older than KEEP_FOR_HOURS (clients retry within minutes, not days)."""
    limit = timezone.now() - dt.timedelta(hours=KEEP_FOR_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=limit).delete()
    return deleted
