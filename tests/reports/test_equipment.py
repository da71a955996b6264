"""Reports on a picked equipment: the owner routes, the layer and the distance are checked."""

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError

from gis_layers.models import Feature, Layer
from gis_layers.services import layer_replace_features
from tests.points import TOWN_HALL

pytestmark = pytest.mark.django_db


@pytest.fixture
def glass_point(demo, categories):
    layer = Layer.objects.create(
        slug="bornes-verre",
        name="Bornes à verre",
        owner_organisation=demo.cahc,
        geometry_type="Point",
    )
    categories["borne-verre-pleine"].layers.add(layer)
    layer_replace_features(
        layer=layer,
        rows=[(1, bytes(TOWN_HALL.wkb), {"ref": "BAV-62907-001", "owner": "cahc"})],
        source_srid=4326,
        ref_field="ref",
        owner_field="owner",
    )
    return Feature.objects.get(layer=layer)


def test_a_cahc_glass_point_in_libercourt_goes_to_the_cahc(make_report, demo, glass_point):
    report = make_report("borne-verre-pleine", equipment_id=glass_point.pk)
    assert report.organisation == demo.cahc and report.service == demo.dechets
    assert report.equipment_label == "BAV-62907-001 (Bornes à verre)"
    trace = report.events.get(type="routed").data["decision"]["trace"]
    assert any(step["step"] == "équipement" for step in trace)


def test_an_equipment_far_from_the_pin_is_refused(make_report, glass_point):
    far = Point(3.0145, 50.4815, srid=4326)  # about 300 m away
    with pytest.raises(ValidationError) as exc:
        make_report("borne-verre-pleine", location=far, equipment_id=glass_point.pk)
    assert "BAV-62907-001" in exc.value.message_dict["equipment"][0]


def test_an_equipment_of_another_kind_is_refused(make_report, glass_point):
    with pytest.raises(ValidationError) as exc:
        make_report("nid-de-poule", equipment_id=glass_point.pk)
    assert "ne relève pas de cette catégorie" in exc.value.message_dict["equipment"][0]


def test_an_unknown_equipment_is_refused(make_report):
    with pytest.raises(ValidationError) as exc:
        make_report("borne-verre-pleine", equipment_id=987654321)
    assert exc.value.message_dict["equipment"] == ["Équipement inconnu."]


def test_a_category_correction_keeps_the_equipment_only_if_it_fits(
    make_report, demo, categories, glass_point
):
    from reports.services import report_change

    categories["borne-verre-abimee"].layers.add(glass_point.layer)
    report = make_report("borne-verre-pleine", equipment_id=glass_point.pk)
    report_change(report, actor=demo.cahc_agent, category=categories["borne-verre-abimee"])
    report.refresh_from_db()
    assert report.equipment_id == glass_point.pk
    assert report.equipment_label.startswith("BAV-62907-001")
    # Illegal dumping has no equipment layer: the report is no longer on the glass point.
    event = report_change(report, actor=demo.cahc_agent, category=categories["depot-sauvage"])
    report.refresh_from_db()
    assert report.equipment_id is None and report.equipment_label == ""
    assert "équipement" in event.data["changes"]
