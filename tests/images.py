"""Test images made with Pillow, deterministic: photos with and without metadata, bombs."""

from __future__ import annotations

import io

from PIL import Image


def jpeg(width: int = 64, height: int = 48, *, exif: bytes | None = None, colour="orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def png(width: int = 64, height: int = 48, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG")
    return out.getvalue()


def webp(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "green").save(out, "WEBP")
    return out.getvalue()


def exif_with_gps(lon: float, lat: float) -> bytes:
    """EXIF with a camera model, an orientation and a GPS position (degrees, minutes, seconds)."""
    exif = Image.Exif()
    exif[0x0110] = "Phone X (test)"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display

    def dms(value: float):
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
        return (degrees, minutes, seconds)

    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    return exif.tobytes()


def checked_jpeg():
    """A photo as report_create receives it (already checked and re-encoded)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reports.photos import photo_check

    return photo_check(SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg"))
