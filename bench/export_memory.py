"""Peak memory and time of the exports on many reports (issue 13, item 10).

Against a database of its own, migrated, with the territory (a copy of a test database left by
``pytest --reuse-db`` does: ``createdb -T <that test database> grc_export_bench``; ``fill``
adds the demo data), never the development one:

    export DATABASE_URL=postgis://postgres@127.0.0.1:5432/grc_export_bench
    .venv/bin/python bench/export_memory.py fill 100000      # reports generated in SQL
    /usr/bin/time -v .venv/bin/python bench/export_memory.py MODE   # "Maximum resident set size"

MODE: ``baseline`` (Django set up, the query run, nothing written), ``csv``, ``geojson``,
``xlsx``, ``gpkg`` (the staff export's writers, all rows, superuser's view), ``open-data`` (the
task's build of the four files from one reading). Each mode prints its rows, seconds and the
size written.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

FILL_SQL = """
WITH k AS (SELECT id FROM routing_category ORDER BY id),
     s AS (SELECT id, organisation_id FROM organisations_service ORDER BY id LIMIT 1),
     t AS (SELECT id FROM territory_commune WHERE insee = '62907'),
     made AS (
        INSERT INTO tracking_citizenrequest (kind, reference, access_key, channel, status,
            status_reason, contact_name, contact_email, contact_phone, category_id, location,
            commune_id, organisation_id, service_id, created_at, updated_at)
        SELECT 'report', 'B' || lpad(g::text, 9, '0'), md5(g::text), 'web', 'received', '',
               'Habitant ' || g, 'h' || g || '@example.org', '06 00 00 00 00',
               (SELECT id FROM k OFFSET mod(g, (SELECT count(*) FROM k)) LIMIT 1),
               ST_SetSRID(ST_MakePoint(703000 + random() * 4000, 7043000 + random() * 4000),
                          2154),
               (SELECT id FROM t), (SELECT organisation_id FROM s), (SELECT id FROM s),
               now() - mod(g, 700) * interval '1 day', now()
        FROM generate_series(1, %(n)s) g
        RETURNING id)
INSERT INTO reports_report (citizenrequest_ptr_id, description, equipment_label, address_label,
                            answers, is_hidden, moderation_pending)
SELECT id, 'Un trou profond devant le numéro ' || id || ', à reboucher vite.', '',
       id || ' rue de la République', '{}', false, false
FROM made
"""


def setup() -> None:
    import django

    django.setup()


def fill(n: int) -> None:
    from django.conf import settings
    from django.db import connection

    from core.demo import demo_data_load
    from tracking.services import public_positions_rebuild

    demo_data_load(with_layers=False)  # services, categories and roles
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no stats triggers: a bench
        cursor.execute(FILL_SQL, {"n": n})
        cursor.execute("SET session_replication_role = DEFAULT")
    public_positions_rebuild(grid=settings.GRC_PUBLIC_PRECISION_M)  # the triggers were off
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_citizenrequest")
        cursor.execute("SELECT count(*) FROM reports_report")
        print("reports:", cursor.fetchone()[0])


def run(mode: str) -> None:
    from django.db.models import Q

    from stats import exports, open_data

    out = Path(tempfile.mkdtemp(prefix="grc-bench-"))
    cols = exports.columns(open_data=False)
    started = time.perf_counter()
    size = 0
    if mode == "open-data":
        from django.conf import settings

        settings.GRC_OPEN_DATA_DIR = out
        open_data.open_data_build(force=True)
        rows = open_data.current("csv").rows
        size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    else:
        data = exports.export_rows(exports.reports_for(Q()), private=Q())
        if mode == "baseline":
            rows = sum(1 for _ in data)
        else:
            path = out / f"export.{mode}"
            rows = 0

            def counted(it):
                nonlocal rows
                for row in it:
                    rows += 1
                    yield row

            exports.write_file(mode, counted(data), cols, path)
            size = path.stat().st_size
    elapsed = time.perf_counter() - started
    print(f"{mode}: rows={rows} seconds={elapsed:.1f} bytes={size}")


if __name__ == "__main__":
    setup()
    if sys.argv[1] == "fill":
        fill(int(sys.argv[2]))
    else:
        run(sys.argv[1])
