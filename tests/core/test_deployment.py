"""The production-like deployment files are valid."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_file_is_accepted():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: ./grc test installs Debian's package.")
    result = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config", "--services"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert set(config) == {"db", "redis", "migrate", "web", "worker", "beat"}


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "exec ./grc test" in ci
    assert "| `./grc test` |" in readme and "| `./grc run` |" in readme
