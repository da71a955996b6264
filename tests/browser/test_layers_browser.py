"""A service manager imports a layer from the intranet, in a real browser, with a real worker."""

import json
import re

import pytest

from gis_layers.models import Feature, Layer

from .conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, email):
    page.goto("/compte/connexion/")
    page.fill("#id_username", email)
    page.fill("#id_password", "Libercourt-demo-2026")
    with page.expect_navigation():
        page.click("main button[type=submit]")


def test_manager_imports_a_file_and_watches_it_finish(
    page, demo, celery_worker_process, tmp_path, settings
):
    settings.GRC_LAYER_IMPORT_DIR = tmp_path
    layer = Layer.objects.create(
        slug="corbeilles-navigateur",
        name="Corbeilles (navigateur)",
        owner_organisation=demo.libercourt,
        owner_service=demo.voirie,
        geometry_type="Point",
    )
    source = tmp_path / "corbeilles.geojson"
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"num": f"CORB-{i}"},
                        "geometry": {"type": "Point", "coordinates": [3.0100 + i / 1000, 50.4800]},
                    }
                    for i in range(5)
                ]
                + [{"type": "Feature", "properties": {"num": "CORB-X"}, "geometry": None}],
            }
        )
    )
    login(page, "responsable.voirie@libercourt.demo")
    page.goto("/intranet/couches/")
    assert axe_violations(page) == []
    page.get_by_role("link", name="Corbeilles (navigateur)").click()
    assert axe_violations(page) == []
    page.set_input_files("#id_file", str(source))
    page.fill("#id_ref_field", "num")
    with page.expect_navigation():
        page.get_by_role("button", name="Importer").click()
    assert re.search(r"/intranet/imports/\d+/$", page.url)
    # The page follows the worker without a manual reload, then shows the outcome.
    page.wait_for_selector("text=5 objets importés sur 6 lus", timeout=30000)
    assert "géométrie absente" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    assert Feature.objects.filter(layer=layer).count() == 5
