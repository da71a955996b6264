"""Citizens' photos: checked by content, bounded before decoding, re-encoded without metadata.

Accepted: JPEG, PNG, WebP, recognised by their first bytes (a name or a declared type proves
nothing: an HTML or SVG file named .jpg is refused). The size is capped as uploaded and the
pixel count is read from the header and capped before any decoding (decompression bombs).
Every stored photo is a fresh JPEG re-encoded from the pixels, turned upright from its EXIF
orientation, at most GRC_PHOTO_MAX_SIDE pixels: no EXIF, GPS, XMP, ICC or comment survives.
A GPS position found in the EXIF is returned so that the form may offer it to place the pin.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
}
GPS_IFD = 0x8825
# Pillow refuses to open images beyond twice this (DecompressionBombError); below, our own cap
# (read from the header) refuses them before decoding.
Image.MAX_IMAGE_PIXELS = settings.GRC_PHOTO_MAX_PIXELS


class PhotoTooLarge(ValidationError):
    """The upload exceeds the size cap (the API answers 413)."""


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes  # the re-encoded JPEG
    width: int
    height: int
    digest: str  # sha256 of what was uploaded (idempotency, duplicates)
    gps: tuple[float, float] | None  # (lon, lat) read from the EXIF before stripping


def _sniff(head: bytes) -> str | None:
    for signature, kind in SIGNATURES.items():
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _gps(image: Image.Image) -> tuple[float, float] | None:
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
    except Exception:  # corrupt EXIF of any kind: simply no position to offer
        return None
    try:

        def degrees(values) -> float:
            d, m, s = (float(v) for v in values)
            return d + m / 60 + s / 3600

        lat, lon = degrees(gps[2]), degrees(gps[4])
        if gps.get(1) == "S":
            lat = -lat
        if gps.get(3) == "W":
            lon = -lon
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lon, 6), round(lat, 6)


def _too_many_pixels(name: str, width: int = 0, height: int = 0) -> str:
    most = settings.GRC_PHOTO_MAX_PIXELS // 1_000_000
    if width:
        return _(
            "%(name)s : %(w)s × %(h)s pixels, c'est trop grand (au plus %(most)s millions de "
            "pixels)."
        ) % {"name": name, "w": width, "h": height, "most": most}
    return _("%(name)s, c'est trop grand (au plus %(most)s millions de pixels).") % {
        "name": name,
        "most": most,
    }


def photo_check(upload, *, name: str = "photo") -> CheckedPhoto:
    """Check one uploaded file and return it re-encoded; ValidationError saying why if not."""
    size = getattr(upload, "size", None)
    if size is not None and size > settings.GRC_PHOTO_MAX_BYTES:
        raise PhotoTooLarge(
            _("%(name)s : %(size)s Mo, au-delà de %(most)s Mo.")
            % {
                "name": name,
                "size": f"{size / 1_048_576:.1f}",
                "most": settings.GRC_PHOTO_MAX_BYTES // 1_048_576,
            }
        )
    raw = upload.read(settings.GRC_PHOTO_MAX_BYTES + 1)
    if len(raw) > settings.GRC_PHOTO_MAX_BYTES:
        raise PhotoTooLarge(
            _("%(name)s dépasse %(most)s Mo.")
            % {"name": name, "most": settings.GRC_PHOTO_MAX_BYTES // 1_048_576}
        )
    kind = _sniff(raw[:16])
    if kind is None:
        raise ValidationError(_("%(name)s n'est pas une photo JPEG, PNG ou WebP.") % {"name": name})
    try:
        image = Image.open(io.BytesIO(raw), formats=[kind])  # reads the header only
    except Image.DecompressionBombError:
        raise ValidationError(_too_many_pixels(name)) from None
    except (UnidentifiedImageError, OSError):
        raise ValidationError(_("%(name)s est illisible ou abîmée.") % {"name": name}) from None
    width, height = image.size
    if width * height > settings.GRC_PHOTO_MAX_PIXELS:
        raise ValidationError(_too_many_pixels(name, width, height))
    gps = _gps(image)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            background = Image.new("RGB", image.size, "white")
            background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
            image = background
        image.thumbnail((settings.GRC_PHOTO_MAX_SIDE, settings.GRC_PHOTO_MAX_SIDE))
        out = io.BytesIO()
        # A fresh JPEG from the pixels: Pillow writes no EXIF, XMP, ICC nor comment unless given.
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ValidationError(_("%(name)s est illisible ou abîmée.") % {"name": name}) from None
    return CheckedPhoto(
        data=out.getvalue(),
        width=image.width,
        height=image.height,
        digest=hashlib.sha256(raw).hexdigest(),
        gps=gps,
    )


def photos_check(uploads) -> list[CheckedPhoto]:
    """Check a submission's uploads: their number first (before decoding any), then each one.
    PhotoTooLarge (413) or ValidationError saying which photo and why."""
    uploads = list(uploads)
    if len(uploads) > settings.GRC_PHOTO_MAX_COUNT:
        raise ValidationError(_("Au plus %(n)s photos.") % {"n": settings.GRC_PHOTO_MAX_COUNT})
    return [
        photo_check(upload, name=_("Photo %(n)s") % {"n": n}) for n, upload in enumerate(uploads, 1)
    ]


def thumbnail(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data), formats=["JPEG"])
    image.thumbnail((settings.GRC_THUMBNAIL_SIDE, settings.GRC_THUMBNAIL_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def new_photo_path() -> str:
    """A server-made name, relative to GRC_PHOTO_ROOT: nothing of the citizen's file name."""
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name}.jpg"


def write_file(relative: str, data: bytes) -> Path:
    path = settings.GRC_PHOTO_ROOT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
