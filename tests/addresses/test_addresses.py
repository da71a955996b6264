"""Address search: BAN CSV import, search without network, the API, the BAN web API backend."""

import gzip
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import CommandError, call_command

from addresses.models import Address
from addresses.selectors import BanApiBackend, address_search
from addresses.services import addresses_import_ban_csv, demo_addresses_load
from territory.models import Commune

from ..conftest import free_port

pytestmark = pytest.mark.django_db

HEADER = (
    "id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;"
    "code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;type_position;alias;nom_ld;"
    "libelle_acheminement;nom_afnor;source_position;source_nom_voie;certification_commune;"
    "cad_parcelles"
)
ROWS = [
    # Real shape of the BAN file; positions in Lambert-93 (x, y), as the BAN gives them.
    "62907_0150_00012;;12;;Rue Jean Jaurès;62820;62907;Libercourt;;;698120.5;7042720.3;3.0105;"
    "50.4805;entrée;;;LIBERCOURT;RUE JEAN JAURES;commune;commune;1;",
    "62907_0150_00012_bis;;12;bis;Rue Jean Jaurès;62820;62907;Libercourt;;;698125.0;7042725.0;"
    "3.0106;50.4805;entrée;;;LIBERCOURT;RUE JEAN JAURES;commune;commune;1;",
    "62907_0150_00003;;3;;Rue Jean Jaurès;62820;62907;Libercourt;;;698100.0;7042700.0;3.0103;"
    "50.4803;entrée;;;LIBERCOURT;RUE JEAN JAURES;commune;commune;1;",
    "62215_0020_00001;;1;;Place de la République;62220;62215;Carvin;;;697000.0;7045000.0;2.95;"
    "50.49;entrée;;;CARVIN;PLACE DE LA REPUBLIQUE;commune;commune;1;",
    "59462_0010_00004;;4;;Rue de Lille;59133;59462;Phalempin;;;700000.0;7047000.0;3.02;50.51;"
    "entrée;;;PHALEMPIN;RUE DE LILLE;commune;commune;1;",
    "62907_0999_00001;;1;;Rue Cassée;62820;62907;Libercourt;;;pas-un-nombre;7042700.0;3.01;"
    "50.48;entrée;;;LIBERCOURT;RUE CASSEE;commune;commune;1;",
]


@pytest.fixture
def cahc_codes(db):
    return set(Commune.objects.filter(epci__isnull=False).values_list("insee", flat=True))


@pytest.fixture
def imported(cahc_codes):
    return addresses_import_ban_csv(io.StringIO("\n".join([HEADER, *ROWS])), insee_codes=cahc_codes)


def test_a_ban_file_loads_our_communes_only_and_reports_the_rest(imported):
    assert (imported.read, imported.imported) == (6, 4)
    assert imported.skipped_outside == 1 and imported.rejected == 1  # Phalempin; broken x
    bis = Address.objects.get(ban_id="62907_0150_00012_bis")
    assert bis.label == "12 bis Rue Jean Jaurès 62820 Libercourt"
    assert bis.location.srid == 2154 and round(bis.location.x, 1) == 698125.0


def test_reimporting_updates_in_place(imported, cahc_codes):
    changed = ROWS[0].replace("Rue Jean Jaurès", "Rue Jean-Jaurès")
    addresses_import_ban_csv(io.StringIO("\n".join([HEADER, changed])), insee_codes=cahc_codes)
    assert Address.objects.count() == 4
    assert Address.objects.get(ban_id="62907_0150_00012").street == "Rue Jean-Jaurès"


def test_a_file_that_is_not_a_ban_csv_is_refused_and_changes_nothing(imported, cahc_codes):
    with pytest.raises(ValueError, match="missing columns"):
        addresses_import_ban_csv(io.StringIO("a;b\n1;2\n"), insee_codes=cahc_codes)
    assert Address.objects.count() == 4


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("12 rue jean jaures", "12 Rue Jean Jaurès 62820 Libercourt"),
        ("3 JEAN-JAURÈS", "3 Rue Jean Jaurès 62820 Libercourt"),
        ("rue jean jaurs libercourt", "3 Rue Jean Jaurès 62820 Libercourt"),  # a typo
        ("place republique carvin", "1 Place de la République 62220 Carvin"),
    ],
)
def test_search_ignores_accents_case_and_typos_and_puts_the_number_first(imported, typed, first):
    hits = address_search(typed)
    assert hits and hits[0].label == first
    assert -180 < hits[0].lon < 180 and hits[0].insee in ("62907", "62215")


def test_too_short_or_unknown_finds_nothing(imported):
    assert address_search("ru") == []
    assert address_search("boulevard haussmann paris") == []


def test_the_api_answers_and_explains_bad_input(client, imported, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # savepoint, threshold, search, release
        body = client.get("/api/addresses/", {"q": "12 bis jean jaures"}).json()
    assert body["results"][0]["label"] == "12 bis Rue Jean Jaurès 62820 Libercourt"
    assert set(body["results"][0]) == {"label", "lon", "lat", "insee", "city", "score"}
    for params, field in [
        ({"q": "ab"}, "q"),
        ({"q": "x" * 300}, "q"),
        ({"q": "jaures", "limit": "0"}, "limit"),
        ({"q": "jaures", "limit": "abc"}, "limit"),
    ]:
        response = client.get("/api/addresses/", params)
        assert response.status_code == 400 and field in response.json()


def test_the_import_command_reads_gzip_and_says_what_it_did(tmp_path, cahc_codes):
    path = tmp_path / "adresses-62.csv.gz"
    path.write_bytes(gzip.compress("\n".join([HEADER, *ROWS]).encode()))
    out = io.StringIO()
    call_command("import_ban", str(path), stdout=out)
    assert "4 addresses imported, 1 outside the agglomeration, 1 rejected, 6 read" in out.getvalue()
    broken = tmp_path / "broken.csv"
    broken.write_text("pas;un;fichier\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing columns"):
        call_command("import_ban", str(broken))


def test_demo_addresses_follow_the_demo_streets_inside_libercourt(db):
    from gis_layers.services import demo_layers_load

    demo_layers_load()
    first = demo_addresses_load()
    labels = sorted(Address.objects.values_list("label", flat=True))
    assert first > 1000 and demo_addresses_load() == first  # deterministic, replaces itself
    assert sorted(Address.objects.values_list("label", flat=True)) == labels
    libercourt = Commune.objects.get(insee="62907")
    outside = Address.objects.exclude(location__within=libercourt.geom.buffer(50)).count()
    assert outside == 0
    assert not Address.objects.filter(is_synthetic=False).exists()
    assert len(set(labels)) == len(labels)  # a street in pieces keeps counting


class _BanApi(BaseHTTPRequestHandler):
    """A local peer answering like api-adresse.data.gouv.fr/search (GeoJSON FeatureCollection)."""

    def do_GET(self):
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [3.0105, 50.4805]},
                "properties": {
                    "label": "12 Rue Jean Jaurès 62820 Libercourt",
                    "score": 0.93,
                    "citycode": "62907",
                    "city": "Libercourt",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
                "properties": {
                    "label": "12 Rue Jean Jaurès 75019 Paris",
                    "score": 0.9,
                    "citycode": "75119",
                    "city": "Paris",
                },
            },
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        self.server.queries.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_ban_web_api_backend_keeps_our_communes_and_falls_back_offline(imported):
    server = HTTPServer(("127.0.0.1", free_port()), _BanApi)
    server.queries = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = BanApiBackend(f"http://127.0.0.1:{server.server_port}/search/")
        hits = backend.search("12 rue jean jaures", limit=5)
    finally:
        server.shutdown()
    assert [h.label for h in hits] == ["12 Rue Jean Jaurès 62820 Libercourt"]  # Paris dropped
    assert server.queries[0].startswith("/search/?q=12+rue+jean+jaures")
    # Nothing listens there any more: the local table answers instead.
    offline = BanApiBackend(f"http://127.0.0.1:{free_port()}/search/", timeout=0.5)
    assert offline.search("12 rue jean jaures")[0].label == "12 Rue Jean Jaurès 62820 Libercourt"
