import pytest


@pytest.fixture(autouse=True)
def _open_data_dir(settings, tmp_path):
    """Each test builds (or not) its own open-data files."""
    settings.GRC_OPEN_DATA_DIR = tmp_path / "open-data"
