"""docker-compose.yml keeps what the portal writes, and tells the portal where it is.

Every directory the settings write to (each ``*_ROOT`` and ``*_DIR`` setting, found by loading
the settings module with a service's own environment from the resolved compose file, not from a
list written here) must be on a named volume, the same one in web and worker: a container's own
files vanish when it is re-created, and the worker cannot read what web wrote in web's files.
The Dockerfile must create each mount point owned by the grc user, else an empty named volume
is owned by root and the portal cannot write to it. The web service must get its public
address (SITE_URL: the production settings refuse to start without an https one) and trust
the reverse proxy in front of it for the client's address (TRUSTED_PROXY_COUNT), and only that
proxy may reach it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Settings that name directories the portal only reads, with the reason.
READ_ONLY = {
    "BASE_DIR": "the code",
    "STATIC_ROOT": "built into the image by collectstatic (a volume would hide new versions)",
}
# Loads the settings a service would load and prints the directories they name, relative to
# BASE_DIR when under it (the repository here, the image's WORKDIR in the container).
SETTINGS_PROBE = """
import json
from pathlib import Path
from django.conf import settings

base = Path(settings.BASE_DIR)
dirs = {}
for name in dir(settings):
    value = getattr(settings, name)
    if name.isupper() and name.endswith(("_ROOT", "_DIR")) and isinstance(value, (str, Path)):
        path = Path(value)
        dirs[name] = ["base", str(path.relative_to(base))] if path.is_relative_to(base) else [
            "abs", str(path)
        ]
print(json.dumps({
    "dirs": dirs,
    "site_url": settings.GRC_SITE_URL,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "csrf_trusted_origins": settings.CSRF_TRUSTED_ORIGINS,
    "trusted_proxy_count": settings.GRC_TRUSTED_PROXY_COUNT,
}))
"""


def resolved_compose(path: Path = ROOT / "docker-compose.yml", **variables: str) -> dict:
    """The compose file as docker-compose resolves it, with only ``variables`` (and a secret
    key) in its environment: what a deployer gets from an .env holding just those."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: ./grc test installs Debian's package.")
    env = {"PATH": os.environ["PATH"], "SECRET_KEY": "compose-test-" + "s" * 50, **variables}
    with tempfile.NamedTemporaryFile(suffix=".env") as no_env_file:  # not a .env beside it
        result = subprocess.run(
            [binary, "-f", str(path), "--env-file", no_env_file.name, "config"],
            cwd=path.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def image_workdir() -> PurePosixPath:
    workdirs = re.findall(r"^WORKDIR\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert workdirs, "the Dockerfile sets no WORKDIR"
    return PurePosixPath(workdirs[-1])


def service_settings(service: dict) -> dict:
    """Load the service's settings module here, with the service's environment."""
    env = {k: "" if v is None else str(v) for k, v in (service.get("environment") or {}).items()}
    env |= {"PATH": os.environ["PATH"], "GRC_ENV_FILE": "/nonexistent", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    workdir = image_workdir()
    found["dirs"] = {
        name: workdir / value if kind == "base" else PurePosixPath(value)
        for name, (kind, value) in found["dirs"].items()
    }
    return found


def mounts(service: dict) -> list[tuple[str, PurePosixPath]]:
    """(source, target) of a service's volumes, short or long syntax."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        found.append((source, PurePosixPath(target)))
    return found


def volume_holding(config: dict, service_name: str, path: PurePosixPath) -> str | None:
    """The named volume of ``service_name`` that ``path`` is on, or None."""
    service = config["services"][service_name]
    best = None
    for source, target in mounts(service):
        if (path == target or target in path.parents) and (
            best is None or len(target.parts) > len(best[1].parts)
        ):
            best = (source, target)
    if best is None or best[0] not in (config.get("volumes") or {}):
        return None  # not mounted, or a host path or an anonymous volume
    return best[0]


def app_services(config: dict) -> list[str]:
    """The services that run the portal's image."""
    image = config["services"]["web"]["image"]
    return [name for name, s in config["services"].items() if s.get("image") == image]


def dockerfile_grc_dirs() -> set[PurePosixPath]:
    """Directories an `install -d -o grc` of the Dockerfile creates."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    created = set()
    for line in text.splitlines():
        if not line.startswith("RUN "):
            continue
        for command in re.split(r"&&|;|\|\|", line.removeprefix("RUN ")):
            words = shlex.split(command)
            if words[:1] == ["install"] and "-d" in words and "grc" in words:
                owner = words[words.index("-o") + 1] if "-o" in words else None
                if owner in ("grc", "10001"):
                    created |= {PurePosixPath(w) for w in words if w.startswith("/")}
    return created


@pytest.fixture(scope="module")
def config():
    return resolved_compose()


@pytest.fixture(scope="module")
def web_settings(config):
    return service_settings(config["services"]["web"])


def test_every_directory_the_portal_writes_is_a_volume_shared_by_web_and_worker(
    config, web_settings
):
    worker_settings = service_settings(config["services"]["worker"])
    assert worker_settings["dirs"] == web_settings["dirs"]  # both look in the same places
    written = {n: p for n, p in web_settings["dirs"].items() if n not in READ_ONLY}
    # what the settings write to today, at least (a new *_ROOT or *_DIR is found by itself)
    assert {"MEDIA_ROOT", "GRC_PHOTO_ROOT", "GRC_LAYER_IMPORT_DIR"} <= set(written)
    for name, path in written.items():
        volumes = {s: volume_holding(config, s, path) for s in ("web", "worker")}
        assert None not in volumes.values(), f"{name} ({path}) is not on a named volume: {volumes}"
        assert len(set(volumes.values())) == 1, f"{name}: web and worker differ: {volumes}"
        # any other service of the image that mounts it mounts the same volume
        for other in app_services(config):
            held = volume_holding(config, other, path)
            assert held in (None, volumes["web"]), f"{name} in {other}: {held}"


def test_static_files_stay_in_the_image(config, web_settings):
    static = web_settings["dirs"]["STATIC_ROOT"]
    for name in app_services(config):
        assert volume_holding(config, name, static) is None, name
        assert not any(
            t == static or static in t.parents for _s, t in mounts(config["services"][name])
        )


def test_the_beat_keeps_its_schedule_on_a_volume(config):
    command = config["services"]["beat"]["command"]
    words = shlex.split(command) if isinstance(command, str) else list(command)
    schedule = None
    for i, word in enumerate(words):
        if word in ("-s", "--schedule"):
            schedule = words[i + 1]
        elif word.startswith("--schedule="):
            schedule = word.split("=", 1)[1]
    assert schedule is not None, "the beat's schedule file would go to the image's WORKDIR"
    path = image_workdir() / schedule  # an absolute schedule path stays as it is
    assert volume_holding(config, "beat", path.parent) is not None


def test_the_image_creates_every_mount_point_for_the_grc_user(config):
    created = dockerfile_grc_dirs()
    for name in app_services(config):
        for source, target in mounts(config["services"][name]):
            assert target in created, f"{name}: {source}:{target} would belong to root"


def test_web_knows_its_public_address_and_its_proxy(config, web_settings):
    assert web_settings["site_url"] == "https://portail.libercourt.fr"
    assert web_settings["site_url"] in web_settings["csrf_trusted_origins"]
    assert web_settings["trusted_proxy_count"] == 1
    # only the proxy on the host may reach gunicorn: it trusts X-Forwarded-For/-Proto
    for port in config["services"]["web"].get("ports") or []:
        host_ip = port.get("host_ip") if isinstance(port, dict) else port.rsplit(":", 2)[0]
        assert host_ip == "127.0.0.1", port
    # a deployer's .env changes them
    changed = service_settings(
        resolved_compose(
            SITE_URL="https://grc.example.org",
            ALLOWED_HOSTS="grc.example.org",
            TRUSTED_PROXY_COUNT="2",
        )["services"]["web"]
    )
    assert changed["site_url"] == "https://grc.example.org"
    assert changed["trusted_proxy_count"] == 2


@pytest.mark.django_db
def test_the_web_health_check_gets_200_over_plain_http(config, client, settings):
    """The container's health check: plain HTTP to gunicorn, an allowed Host, the status code
    only; the web's own scope (the database), so that a stopped worker does not fail it."""
    web = config["services"]["web"]
    command = " ".join(web["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:8000(/[^'\"]*)", command).group(1)
    assert "os.environ['ALLOWED_HOSTS'].split(',')[0]" in command
    host = web["environment"]["ALLOWED_HOSTS"].split(",")[0]
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = [host]
    response = client.get(url, HTTP_HOST=host)
    assert response.status_code == 200, response.content
