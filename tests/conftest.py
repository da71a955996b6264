"""Shared fixtures: the real territory in the test database, demo roles, real Redis and Celery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The real CAHC territory, organisations and competences, loaded once per session."""
    from organisations.services import organisations_load
    from territory.services import territory_load

    with django_db_blocker.unblock():
        organisations_load(epci=territory_load().epci)


@pytest.fixture
def demo(db):
    """Libercourt's and the CAHC's demo services and one account per role.

    Returns a namespace of the users and services, looked up by the demo emails and slugs.
    """
    from types import SimpleNamespace

    from accounts.models import User
    from core.demo import demo_data_load
    from organisations.models import Organisation, Service

    # Layers are loaded by the tests that need them; the territory once per session (reloaded
    # only when a transactional test emptied the database).
    demo_data_load(with_layers=False, territory=False)
    users = {
        u.email.split("@")[0].replace(".", "_") + ("_cahc" if "cahc" in u.email else ""): u
        for u in User.objects.all()
    }
    lib = Organisation.objects.get(commune__insee="62907")
    cahc = Organisation.objects.get(kind="epci")
    services = {
        f"{s.organisation.slug}:{s.slug}": s for s in Service.objects.select_related("organisation")
    }
    return SimpleNamespace(
        libercourt=lib,
        cahc=cahc,
        services=services,
        citizen=users["citoyenne"],
        agent=users["agent_voirie"],
        manager=users["responsable_voirie"],
        reception_agent=users["agent_accueil"],
        lib_admin=users["admin"],
        cahc_agent=users["agent_dechets_cahc"],
        cahc_admin=users["admin_cahc"],
        superuser=users["operateur"],
        voirie=services["libercourt:voirie"],
        eclairage=services["libercourt:eclairage-public"],
        etat_civil=services["libercourt:etat-civil"],
        dechets=services["cahc:collecte-dechets"],
        eau=services["cahc:eau-assainissement"],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup):
    """A real Celery worker on the test Redis and the test database, for the whole session.

    It sees what transactional tests commit (the browser tests), not what the other tests keep
    inside their rolled-back transaction.
    """
    from django.db import connection

    test_db = connection.settings_dict["NAME"]
    database_url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + test_db
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    name = f"grc-test-{os.getpid()}@%h"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-l",
            "warning",
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    from config.celery import app

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited: {proc.stderr.read().decode()[-2000:]}")
        if app.control.ping(timeout=0.5):
            break
    else:
        proc.terminate()
        raise RuntimeError("Celery worker did not answer within 30 s")
    yield proc
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def stopped_redis_url():
    """The URL of a real Redis that was started and then shut down: nothing answers there."""
    from .brokers import redis_server

    port = free_port()
    with redis_server(port):
        pass
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty test cache (Redis db REDIS_TEST_DB, never the demo's)."""
    from django.core.cache import cache

    assert settings.CACHES["default"]["KEY_PREFIX"] == "grc-test"
    cache.clear()


def pytest_configure(config):
    """Screenshots of browser tests land in .local/screenshots (git-ignored) for a human look."""
    pytest.screenshot_dir = ROOT / ".local" / "screenshots"
    pytest.screenshot_dir.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback (aiosmtpd); Django sends to it through its SMTP backend.

    Yields the list of received messages (email.message.Message) and a switch to refuse mail
    (the server answers 451, as a mail server in trouble does).
    """
    from email import message_from_bytes, policy
    from types import SimpleNamespace

    from aiosmtpd.controller import Controller

    state = SimpleNamespace(messages=[], refuse=False)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if state.refuse:
                return "451 4.3.0 Mail server temporarily unavailable"
            message = message_from_bytes(envelope.content, policy=policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            state.messages.append(message)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield state
    finally:
        controller.stop()


@pytest.fixture
def roads_layer(demo, tmp_path, settings):
    """Make a point layer of Libercourt's roads service (whose manager imports into it); this
    test's layer uploads go to its own directory."""
    from gis_layers.models import Layer

    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"

    def make(slug: str, name: str = "Corbeilles") -> Layer:
        return Layer.objects.create(
            slug=slug,
            name=name,
            owner_organisation=demo.libercourt,
            owner_service=demo.voirie,
            geometry_type="Point",
        )

    return make


@pytest.fixture
def categories(demo):
    from routing.models import Category

    return {c.slug: c for c in Category.objects.select_related("domain")}


@pytest.fixture
def make_report(categories):
    """Create a report through the real service (routing included); defaults to a pothole at
    Libercourt's town hall reported with an email address, and a photo where one is required."""
    from reports.services import report_create

    from .images import checked_jpeg
    from .points import TOWN_HALL

    def make(slug="nid-de-poule", location=TOWN_HALL, **kw):
        kw.setdefault("description", "Un trou profond devant le numéro 12.")
        kw.setdefault("contact_email", "habitant@example.org")
        if categories[slug].photo_required:
            kw.setdefault("photos", [checked_jpeg()])
        return report_create(category=categories[slug], location=location, **kw)

    return make


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in French, as each request starts in its own language: a test that
    asked for English must not leave it active for the services the next one calls."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _redis_reachable():
    """A cache or broker outage met by one test (core.failopen) must not pause the next test's
    counters or publishing, nor a report kept by /healthz answer for the next test."""
    from core import failopen, health

    failopen.reset()
    health.forget()
    yield
    failopen.reset()
    health.forget()


@pytest.fixture(autouse=True)
def _photo_root(settings, tmp_path):
    """Each test writes report photos under its own directory (rolled-back tests leave files)."""
    settings.GRC_PHOTO_ROOT = tmp_path / "photos"
