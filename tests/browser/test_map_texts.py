"""Texts that come from data are drawn on maps as text, never as HTML.

An equipment's number comes from an imported file: a layer manager (or the file they were
sent) could put markup in it. The reporting map's tooltip must show it as typed.
"""

import pytest

from tests.points import TOWN_HALL

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = '<img src=x onerror="window.__pwned=1">EP-X'


@pytest.fixture
def hostile_streetlight(demo):
    from gis_layers.models import Layer
    from gis_layers.services import layer_replace_features
    from routing.models import Category
    from routing.services import categories_load

    categories_load()
    layer = Layer.objects.create(
        slug="lampadaires-importes",
        name="Lampadaires <b>importés</b>",
        owner_organisation=demo.libercourt,
        geometry_type="Point",
    )
    near = TOWN_HALL.transform(2154, clone=True)
    near.x += 5
    layer_replace_features(
        layer=layer,
        rows=[(1, bytes(near.wkb), {"num": PAYLOAD})],
        source_srid=2154,
        ref_field="num",
    )
    Category.objects.get(slug="lampadaire-eteint").layers.set([layer])
    return layer


def test_an_equipment_number_with_markup_is_shown_as_text(page, hostile_streetlight):
    # the report form placed at the town hall for a streetlight, as a map tap leaves it
    page.goto(f"/signaler/?category=lampadaire-eteint&lon={TOWN_HALL.x}&lat={TOWN_HALL.y}")
    page.wait_for_selector("#report-map.leaflet-container")
    page.wait_for_selector("#report-map[data-equipment='1']", state="attached")
    page.locator("#report-map path.leaflet-interactive").first.hover(force=True)
    tooltip = page.locator(".leaflet-tooltip:not(.context-label)")  # not our context labels
    tooltip.wait_for()
    assert tooltip.inner_text() == f"{PAYLOAD} – Lampadaires <b>importés</b>"
    assert tooltip.locator("img, b").count() == 0
    assert page.evaluate("window.__pwned") is None
