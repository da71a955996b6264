"""The public list is paged by the server (the filters kept in the page links), each report's
status is drawn by a colour that stands out from the map and a shape of its own with its name
in the legend, and the tracking page's map carries the report's public point only."""

import json
import re

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils.html import escape

from core.maps import MAP_BACKGROUND, STATUS_STYLES, map_config
from reports.models import Report
from tracking.models import Status

pytestmark = pytest.mark.django_db

EXACT = Point(3.0108137, 50.4806219, srid=4326)  # a street near Libercourt's town hall


def snapped(point: Point, grid: float = 10) -> Point:
    """The public point computed independently: Lambert-93 rounded to the grid, to WGS84."""
    local = point.transform(2154, clone=True)
    public = Point(round(local.x / grid) * grid, round(local.y / grid) * grid, srid=2154)
    return public.transform(4326, clone=True)


def references(html: str) -> list[str]:
    return re.findall(r'href="/signalements/([^/"]+)/"', html)


def test_the_list_is_paged_and_its_page_links_keep_the_filters(client, make_report):
    made = [
        make_report("signalisation", location=Point(3.0105 + i * 0.0002, 50.4804, srid=4326))
        for i in range(23)
    ]
    other = make_report("fuite-eau", location=Point(3.0200, 50.4850, srid=4326))
    Report.objects.filter(pk=made[0].pk).update(is_hidden=True)  # never listed

    first = client.get("/signalements/", {"category": "signalisation"}).content.decode()
    listed = references(first)
    assert len(listed) == 20 and other.reference not in listed
    assert "1 à 20 sur 22" in first
    assert 'href="?category=signalisation&amp;page=2"' in first  # page 2, same filter
    assert 'aria-current="page"' in first

    second = client.get("/signalements/", {"category": "signalisation", "page": 2})
    rest = references(second.content.decode())
    assert len(rest) == 2 and not set(rest) & set(listed)
    assert set(listed) | set(rest) == {r.reference for r in made[1:]}
    assert 'href="?category=signalisation&amp;page=1"' in second.content.decode()
    # a hostile page number gives a page of the list, never an error nor an empty page: not a
    # number, the first; out of range (past the end, zero, negative), the last
    for hostile, expected in (
        ("x", listed),
        ("1.5", listed),
        ("", listed),
        ("99999", rest),
        ("0", rest),
        ("-1", rest),
    ):
        response = client.get("/signalements/", {"category": "signalisation", "page": hostile})
        assert response.status_code == 200, hostile
        assert references(response.content.decode()) == expected, hostile


def test_a_list_page_costs_the_same_queries_whatever_its_lines(
    client, make_report, django_assert_max_num_queries
):
    """The count, the page (category and commune joined), the public layers (map_config) and
    the filters' categories: nothing per line, whatever the number of reports."""
    for i in range(25):
        make_report("signalisation", location=Point(3.0105 + i * 0.0002, 50.4804, srid=4326))
    with django_assert_max_num_queries(4):
        html = client.get("/signalements/", {"page": "2"}).content.decode()
    assert len(references(html)) == 5


def test_one_page_needs_no_page_links(client, make_report):
    make_report("signalisation")
    html = client.get("/signalements/").content.decode()
    assert "Pages de la liste" not in html


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_each_status_stands_out_from_the_map_and_has_its_own_shape():
    assert set(STATUS_STYLES) == set(Status.values)
    for status, style in STATUS_STYLES.items():
        assert _contrast(style["colour"], MAP_BACKGROUND) >= 3, status
        assert _contrast(style["colour"], "#ffffff") >= 3, status
    # never told by colour alone: no two statuses share both shape and fill
    looks = {(json.dumps(s["shape"]), s.get("hollow", False)) for s in STATUS_STYLES.values()}
    assert len(looks) == len(STATUS_STYLES)


def test_the_legend_names_each_status_beside_its_shape(client, make_report):
    report = make_report("signalisation")
    Report.objects.filter(pk=report.pk).update(status=Status.PLANNED)
    html = client.get("/signalements/").content.decode()
    legend = html.split('class="status-legend"', 1)[1].split("</ul>", 1)[0]
    for value, label in Status.choices:
        assert f'<span data-status-label="{value}">{escape(label)}</span>' in legend
    assert legend.count("<svg") == len(Status.choices)
    # the list line shows the same shape and says the status in words
    line = html.split('class="report-list"', 1)[1].split("</li>", 1)[0]
    assert STATUS_STYLES["planned"]["colour"] in line and "Intervention programmée" in line
    config = json.loads(html.split('id="map-config" type="application/json">', 1)[1].split("<")[0])
    assert config["statuses"]["planned"]["colour"] == STATUS_STYLES["planned"]["colour"]


def test_the_filters_fold_behind_a_button_on_a_phone(client, make_report):
    html = client.get("/signalements/", {"status": "received"}).content.decode()
    assert 'aria-controls="filters-panel"' in html and "(1 filtre actif)" in html
    assert 'id="filters-panel" class="filters-panel" data-open="false"' in html
    bad = client.get("/signalements/", {"status": "perdu"}).content.decode()
    assert 'data-open="true"' in bad  # an error keeps them open


def test_the_map_config_names_our_own_context_layers(demo):
    from gis_layers.services import demo_layers_load

    demo_layers_load()
    config = map_config()
    assert config["communesUrl"] == "/api/territory/communes/"
    assert config["streetsUrl"].startswith("/api/layers/voirie/features/")
    slugs = {layer["slug"] for layer in config["equipment"]}
    assert "eclairage-public" in slugs and "voirie" not in slugs and "parcs" not in slugs
    assert all(
        layer["url"] == f"/api/layers/{layer['slug']}/features/" for layer in config["equipment"]
    )


def test_the_map_config_never_names_a_layer_that_is_not_public(demo):
    """Every map (the admin's too) fetches what map_config names: an internal or shared layer
    must not be among them, whoever reads the page."""
    from gis_layers.models import Layer
    from gis_layers.services import demo_layers_load

    demo_layers_load()
    Layer.objects.filter(slug="eclairage-public").update(visibility=Layer.Visibility.INTERNAL)
    Layer.objects.filter(slug="voirie").update(visibility=Layer.Visibility.SHARED)
    config = map_config()
    assert "eclairage-public" not in {layer["slug"] for layer in config["equipment"]}
    assert config["streetsUrl"] is None
    assert "eclairage-public" not in json.dumps(config) and "voirie" not in json.dumps(config)


def _place(html: str) -> dict | None:
    found = re.search(r'<script id="report-place" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1)) if found else None


def test_the_tracking_map_carries_the_public_point_only(client, demo, make_report):
    report = make_report("signalisation", location=EXACT)
    url = reverse("reports:detail", args=[report.reference])
    public = snapped(EXACT)
    # the public, its author's link, and the agent handling it (who sees the exact point
    # elsewhere, never in this page's map)
    for query, user in (("", None), (f"?cle={report.access_key}", None), ("", demo.agent)):
        if user:
            client.force_login(user)
        html = client.get(url + query).content.decode()
        place = _place(html)
        assert abs(place["lon"] - public.x) < 2e-6 and abs(place["lat"] - public.y) < 2e-6
        assert f"{EXACT.x:.6f}" not in html and f"{EXACT.y:.6f}" not in html
        assert f"{EXACT.x:.5f}" not in html.replace(f"{public.x:.5f}", "")
        assert 'id="place-map"' in html and "Équipements à proximité" in html


def test_a_home_report_has_no_map(client, make_report):
    home = make_report("animaux-nuisibles", location=EXACT)
    url = reverse("reports:detail", args=[home.reference])
    for query in ("", f"?cle={home.access_key}"):
        html = client.get(url + query).content.decode()
        assert _place(html) is None and 'id="place-map"' not in html


def test_the_tracking_map_names_the_equipment_around_in_text(client, demo):
    from gis_layers.services import demo_layers_load
    from reports.selectors import equipment_near
    from reports.services import report_create
    from routing.models import Category
    from routing.services import categories_load

    demo_layers_load()
    categories_load()  # links the problems to their equipment layers
    category = Category.objects.get(slug="lampadaire-eteint")
    lamp = equipment_near(category, lon=3.0105, lat=50.4804, radius_m=500, limit=1)[0]
    report = report_create(
        category=category,
        location=Point(lamp.lon, lamp.lat, srid=4326),
        description="Éteint depuis hier soir.",
        contact_email="a@example.org",
        equipment_id=lamp.id,
    )
    html = client.get(reverse("reports:detail", args=[report.reference])).content.decode()
    refs = [e["ref"] for e in _place(html)["equipment"]]
    assert lamp.ref in refs
    text = html.split('class="place-equipment"', 1)[1].split("</ul>", 1)[0]
    assert f"<strong>{lamp.ref}</strong>" in text
