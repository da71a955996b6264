"""``Idempotency-Key`` for API writes: the same key replays the first answer, exactly once.

A request is named by a digest of what it carries (``request_digest``: its fields, and a
SHA-256 of each uploaded file's bytes, read as sent, never decoded). ``begin`` takes the steps
in their order, so that no endpoint gets it wrong:

1. The key is looked up once, before any work: a key already answered for the same digest and
   endpoint is a replay (the first answer again, not counted by the rate limits).
2. Anything else is an attempt: the caller's ``attempt()`` counts it (its refusal is the
   answer).
3. A key already answered for another body or endpoint is refused (``KeyReused``, 422, as the
   IETF draft says), before anything of the request is decoded.
4. An unknown key, or none: ``begin`` returns a ``Once``; the caller does its checks (decoding
   photos) and ``Once.run`` writes inside one transaction, claiming the key with ``INSERT …
   ON CONFLICT DO NOTHING``. A concurrent request with the same key blocks on the unique index
   until the first commits, then finds its row and replays it (same digest) or is refused
   (another); if the first failed, its claim rolled back with it and the retry runs afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from .models import IdempotentRequest

HEADER = "Idempotency-Key"
# At least 16 characters: every anonymous caller shares one scope ("anonymous", caller_scope),
# so short keys would collide between strangers, refused (422) or, worse, replayed the other's
# first answer, its report's access key included. A UUID has 36.
MIN_LENGTH, MAX_LENGTH = 16, 128


class KeyReused(APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = gettext_lazy(
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


def request_digest(request, known: Mapping[str, Sequence[str]] | None = None) -> str:
    """What identifies a request's body: every value of every form field (or the JSON body,
    key order and whitespace aside) and the digest of each uploaded file, per field, in order.
    Computed from the request as received: no photo is decoded for it. ``known``: a field's
    file digests already computed by the caller (the SHA-256 of each file's bytes as sent, in
    order, as ``reports.photos.CheckedPhoto.digest``), so that its files are not read again."""
    data = request.data
    fields = dict(request.POST.lists()) if isinstance(data, QueryDict) else data
    known = known or {}
    files = {
        name: list(known[name])
        if name in known
        else [file_digest(f) for f in request.FILES.getlist(name)]
        for name in request.FILES
    }
    return body_digest({"fields": fields, "files": files})


def read_key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not (MIN_LENGTH <= len(key) <= MAX_LENGTH) or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {
                HEADER: _(
                    "La clé doit faire %(min)s à %(max)s caractères ASCII (un UUID par exemple)."
                )
                % {"min": MIN_LENGTH, "max": MAX_LENGTH}
            }
        )
    return key


def _replay(previous: IdempotentRequest) -> Response:
    replay = Response(previous.response, status=previous.status_code)
    replay["Idempotent-Replayed"] = "true"
    return replay


def begin(
    request, principal: Any, endpoint: str, *, attempt: Callable[[], Response | None]
) -> Response | Once:
    """The key's steps before any work (see the module): the answer to give now (the first
    answer replayed, or ``attempt()``'s refusal), or a ``Once`` to write with; raises
    ``KeyReused`` (422) for a key that served another request, once ``attempt()`` counted it.

    The body's digest is computed here only for a key already answered, so that a flood of
    fresh keys is refused by ``attempt()`` without its uploads being read.
    """
    key = read_key(request)
    scope = caller_scope(principal)
    previous = (
        IdempotentRequest.objects.filter(scope=scope, key=key, status_code__gt=0).first()
        if key is not None
        else None
    )
    if (
        previous is not None
        and previous.endpoint == endpoint
        and previous.body_digest == request_digest(request)
    ):
        return _replay(previous)
    refusal = attempt()
    if refusal is not None:
        return refusal
    if previous is not None:
        raise KeyReused()  # the key served another body: nothing of this one is decoded
    return Once(request=request, scope=scope, key=key, endpoint=endpoint)


@dataclass(frozen=True)
class Once:
    """A write to run once per key (from ``begin``): ``run`` it after the request's checks."""

    request: Any
    scope: str
    key: str | None
    endpoint: str

    def run(
        self, write: Callable[[], Response], *, known: Mapping[str, Sequence[str]] | None = None
    ) -> Response:
        """Run ``write`` (which returns the Response to give) once per key; replay it
        afterwards. ``known``: file digests the checks already computed (``request_digest``).
        """
        if self.key is None:
            return write()
        digest = request_digest(self.request, known)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO core_idempotentrequest "
                    "(scope, key, endpoint, body_digest, status_code, response, created_at) "
                    "VALUES (%s, %s, %s, %s, 0, 'null'::jsonb, %s) "
                    "ON CONFLICT (scope, key) DO NOTHING RETURNING id",
                    [self.scope, self.key, self.endpoint, digest, timezone.now()],
                )
                claimed = cursor.fetchone()
            if claimed is None:
                previous = IdempotentRequest.objects.get(scope=self.scope, key=self.key)
                if previous.body_digest != digest or previous.endpoint != self.endpoint:
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
    deleted, _by_model = IdempotentRequest.objects.filter(created_at__lt=limit).delete()
    return deleted
