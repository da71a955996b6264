"""Photos: content checked, bombs refused before decoding, metadata gone, served safely."""

import io
import json
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from reports.models import Photo, Report
from reports.photos import PhotoTooLarge, photo_check
from reports.services import photo_thumbnails_make, photos_sweep_orphans
from tests.images import exif_with_gps, jpeg, png, webp

pytestmark = pytest.mark.django_db

URL = "/api/reports/"
FIELDS = {
    "category": "nid-de-poule",  # a photo is required
    "lon": "3.01054",
    "lat": "50.480422",
    "description": "Nid-de-poule profond.",
    "contact_email": "habitant@example.org",
}


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring width × height: a few hundred bytes for gigapixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_metadata_is_gone_and_the_gps_position_is_offered_first():
    original = jpeg(80, 40, exif=exif_with_gps(3.01054, 50.480422))
    assert b"Phone X" in original  # the camera model is in the upload...
    checked = photo_check(upload(original))
    assert checked.gps == pytest.approx((3.01054, 50.480422), abs=1e-4)
    stored = Image.open(io.BytesIO(checked.data))
    assert not stored.getexif() and "exif" not in stored.info and "icc_profile" not in stored.info
    assert b"Phone X" not in checked.data and b"Exif" not in checked.data  # ...not in what we keep
    assert (stored.width, stored.height) == (40, 80)  # turned upright from the EXIF orientation


@pytest.mark.parametrize("data", [png(), png(mode="P"), webp()])
def test_png_and_webp_become_plain_jpeg(data):
    checked = photo_check(upload(data, name="x.png"))
    assert checked.data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "photo.jpg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "photo.jpg"),
        (b"GIF89a" + b"\x00" * 20, "photo.gif"),
        (b"\xff\xd8\xff\xe0" + b"broken" * 10, "photo.jpg"),
    ],
)
def test_disguised_or_broken_files_are_refused_by_content(data, name):
    with pytest.raises(ValidationError) as exc:
        photo_check(upload(data, name=name))
    assert "photo" in str(exc.value).lower() or "illisible" in str(exc.value)


def test_a_decompression_bomb_is_refused_before_decoding():
    bomb = png_bomb(40_000, 40_000)
    assert len(bomb) < 2_000
    with pytest.raises(ValidationError, match="millions de pixels"):
        photo_check(upload(bomb, name="bomb.png"))


def test_an_oversized_upload_is_refused(settings):
    settings.GRC_PHOTO_MAX_BYTES = 10_000
    with pytest.raises(PhotoTooLarge, match="Mo"):
        photo_check(upload(jpeg() + b"\x00" * 20_000))


def post(client, files=(), **extra):
    return client.post(URL, {**FIELDS, **extra, "photos": list(files)})


def test_a_report_with_a_photo_through_the_api(client, demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, [upload(jpeg(exif=exif_with_gps(3.0, 50.4)))])
    assert response.status_code == 201, response.json()
    report = Report.objects.get(reference=response.json()["reference"])
    photo = report.photos.get()
    assert photo.file.endswith(".jpg") and "photo" not in photo.file  # a name we made
    links = response.json()["photos"]
    assert len(links) == 1
    assert links[0]["thumbnail_url"] == links[0]["url"]  # the photo itself until the thumbnail
    photo_thumbnails_make(report.pk)  # what the task asked for on commit does
    thumb_url = client.get(f"{URL}{report.reference}/").json()["photos"][0]["thumbnail_url"]
    assert thumb_url.endswith(".thumb.jpg")
    thumb = Image.open(io.BytesIO(b"".join(client.get(thumb_url).streaming_content)))
    assert max(thumb.size) <= 320
    served = client.get(links[0]["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]
    body = b"".join(served.streaming_content)
    assert b"Phone X" not in body and body[:3] == b"\xff\xd8\xff"


def test_a_category_requiring_a_photo_says_so(client, demo):
    response = post(client)
    assert response.status_code == 422
    assert "photo" in json.dumps(response.json(), ensure_ascii=False)
    assert not Report.objects.exists()


def test_four_photos_are_too_many(client, demo):
    response = post(client, [upload(jpeg(), name=f"p{i}.jpg") for i in range(4)])
    assert response.status_code == 422 and "Au plus 3" in json.dumps(
        response.json(), ensure_ascii=False
    )


def test_disguised_html_through_the_api_is_refused_and_nothing_stored(client, demo):
    response = post(client, [upload(b"<html>hi</html>", name="photo.jpg")])
    assert response.status_code == 422
    assert not Report.objects.exists() and not Photo.objects.exists()


def test_a_60_mb_upload_is_413_before_being_read(client, demo):
    response = client.post(
        URL,
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(60 * 1024 * 1024),
    )
    assert response.status_code == 413 and "Mo" in json.dumps(response.json(), ensure_ascii=False)


def test_a_hidden_photo_is_only_for_those_handling_the_report(client, make_report, demo):
    report = make_report()
    photo = report.photos.get()
    url = f"/signalements/{report.reference}/photos/{photo.name}"
    assert client.get(url).status_code == 200
    Photo.objects.filter(pk=photo.pk).update(is_hidden=True)
    assert client.get(url).status_code == 404
    assert client.get(f"/api/reports/{report.reference}/").json()["photos"] == []
    client.force_login(demo.agent)
    assert client.get(url).status_code == 200
    assert (
        client.get(f"/signalements/{report.reference}/photos/../../etc/passwd").status_code == 404
    )
    assert client.get(f"/signalements/{report.reference}/photos/{'0' * 32}.jpg").status_code == 404


def test_missing_thumbnails_and_orphan_files_are_swept(make_report, settings):
    report = make_report()
    assert photo_thumbnails_make() == 1 and photo_thumbnails_make() == 0
    orphan = settings.GRC_PHOTO_ROOT / "ff" / "ffffffffffffffffffffffffffffffff.jpg"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(jpeg())
    import datetime as dt

    assert photos_sweep_orphans(older_than=dt.timedelta(hours=1)) == 0  # too recent
    assert photos_sweep_orphans(older_than=dt.timedelta(seconds=-1)) == 1
    assert not orphan.exists()
    photo = report.photos.get()
    assert (settings.GRC_PHOTO_ROOT / photo.file).exists()
    assert (settings.GRC_PHOTO_ROOT / photo.thumbnail).exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_makes_the_thumbnail_after_commit(demo, celery_worker_process, settings):
    """The committed report asks a real Celery worker, which writes where the portal reads."""
    import time

    from django.conf import settings as django_settings

    from reports.services import report_create
    from routing.models import Category
    from tests.images import checked_jpeg
    from tests.points import TOWN_HALL

    settings.GRC_PHOTO_ROOT = django_settings.BASE_DIR / ".local" / "test-photos"  # the worker's
    report = report_create(
        category=Category.objects.get(slug="nid-de-poule"),
        location=TOWN_HALL,
        description="Nid-de-poule.",
        contact_email="habitant@example.org",
        photos=[checked_jpeg()],
    )
    photo = report.photos.get()
    deadline = time.monotonic() + 20
    while not photo.thumbnail and time.monotonic() < deadline:
        time.sleep(0.2)
        photo.refresh_from_db()
    assert photo.thumbnail.endswith(".thumb.jpg")
    assert (settings.GRC_PHOTO_ROOT / photo.thumbnail).exists()
