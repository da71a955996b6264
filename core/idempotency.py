"""``Idempotency-Key`` for API writes: the same key replays the first answer, exactly once.

A request is named by a digest of what it carries (``request_digest``: its fields, and a
SHA-256 of each uploaded file's bytes, read as sent, never decoded). Flow:

1. ``previous_answer`` looks the key up once, before any work: a key already answered for the
   same digest and endpoint is a replay (the first answer again, not counted by the rate
   limits); a key already answered for another body or endpoint is refused (422, as the IETF
   draft says), once the caller has counted the attempt, and nothing of it is decoded.
2. An unknown key: the caller counts the attempt, does its checks (decoding photos), and
   ``run_once`` writes inside one transaction, claiming the key with ``INSERT … ON CONFLICT DO
   NOTHING``. A concurrent request with the same key blocks on the unique index until the
   first commits, then finds its row and replays it (same digest) or is refused (another);
   if the first failed, its claim rolled back with it and the retry runs afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.http import QueryDict
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


def file_digest(upload) -> str:
    """SHA-256 of an uploaded file's bytes as sent, read in chunks (never decoded); the file is
    rewound for whoever reads it next. Its size is bounded by the caller's check of the
    request's Content-Length, made before the body is read."""
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return sha.hexdigest()


def request_digest(request) -> str:
    """What identifies a request's body: every value of every form field (or the JSON body,
    key order and whitespace aside) and the digest of each uploaded file, per field, in order.
    Computed from the request as received: no photo is decoded for it."""
    data = request.data
    fields = dict(request.POST.lists()) if isinstance(data, QueryDict) else data
    files = {name: [file_digest(f) for f in request.FILES.getlist(name)] for name in request.FILES}
    return body_digest({"fields": fields, "files": files})


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


@dataclass(frozen=True)
class Previous:
    """A key this caller already used: ``replay`` is the first answer when this request is the
    same one (same digest, same endpoint), None when the key served another request."""

    replay: Response | None


def _replay(previous: IdempotentRequest) -> Response:
    replay = Response(previous.response, status=previous.status_code)
    replay["Idempotent-Replayed"] = "true"
    return replay


def previous_answer(request, principal: Any, endpoint: str) -> Previous | None:
    """Look the request's key up once, before any work: None without a key or for a key never
    answered (count the attempt, check, then ``run_once``); else ``Previous``. A replay costs
    nothing and is not counted by the rate limits; a key reused for another body must be
    counted and refused (``KeyReused``) before anything of the request is decoded.

    The body's digest (``request_digest``) is only computed for a key already answered, so a
    flood of fresh keys is refused by the rate limit without its uploads being read.
    """
    key = read_key(request)
    if key is None:
        return None
    previous = IdempotentRequest.objects.filter(
        scope=caller_scope(principal), key=key, status_code__gt=0
    ).first()
    if previous is None:
        return None
    if previous.endpoint == endpoint and previous.body_digest == request_digest(request):
        return Previous(replay=_replay(previous))
    return Previous(replay=None)


def run_once(
    *, request, principal: Any, endpoint: str, digest: str, write: Callable[[], Response]
) -> Response:
    """Run ``write`` (which returns the Response to give) once per key; replay it afterwards.

    ``digest`` is ``request_digest(request)``, computed once by the caller, so that a retry
    racing the first request converges on the same row as one looked up by
    ``previous_answer``."""
    key = read_key(request)
    if key is None:
        return write()
    scope = caller_scope(principal)
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
            return _replay(previous)
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
