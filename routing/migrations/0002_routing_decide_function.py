from django.db import migrations

# The routing query as a PL/pgSQL function: PostgreSQL caches its plan per connection, so a
# decision costs its execution (~0.8 ms) instead of planning + execution (~2.6 ms, planning
# dominates with a dozen subqueries). routing.selectors.route_for calls it: still one query.
# Storage SRID 2154 (settings.GRC_STORAGE_SRID) is written in, as in the other migrations.
# The commune is found through the subdivided pieces of the boundaries (territory.CommunePart,
# kept by a trigger) so that full-resolution boundaries stay cheap; rule areas (a few hundred
# vertices) are tested whole: subdividing them measured slower (bench/run_routing.py).
FUNCTION = """
CREATE OR REPLACE FUNCTION routing_decide(
    p_lon double precision, p_lat double precision, p_domain bigint, p_category bigint,
    p_equipment bigint, p_today date)
RETURNS TABLE (commune_json text, competent_json text, equipment_json text, rules_json text,
               services_json text, swapped_json text)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
RETURN QUERY
WITH p AS (
    SELECT ST_Transform(ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326), 2154) AS g
),
commune AS (
    SELECT c.id, c.insee, c.name, c.department, c.epci_id, c.epci_name,
           o.id AS org_id, o.name AS org_name, o.kind AS org_kind, o.on_board,
           o.address, o.phone, o.email, o.website
    FROM territory_communepart cp CROSS JOIN p
    JOIN territory_commune c ON c.id = cp.commune_id
    LEFT JOIN organisations_organisation o ON o.commune_id = c.id
    WHERE ST_Covers(cp.geom, p.g)
    ORDER BY c.epci_id IS NULL, c.insee
    LIMIT 1
),
competent AS (
    SELECT o.id, o.name, o.kind, o.on_board
    FROM organisations_competence k
    JOIN commune ON k.commune_id = commune.id
    JOIN organisations_organisation o ON o.id = k.organisation_id
    WHERE k.domain_id = p_domain
),
equipment AS (
    SELECT f.id, f.ref, l.slug AS layer, l.name AS layer_name, f.owner_organisation_id AS owner_id,
           o.name AS owner_name, o.on_board AS owner_on_board,
           round(ST_Distance(f.geom, p.g)::numeric, 1) AS distance_m
    FROM gis_layers_feature f
    JOIN gis_layers_layer l ON l.id = f.layer_id
    LEFT JOIN organisations_organisation o ON o.id = f.owner_organisation_id
    CROSS JOIN p
    WHERE f.id = p_equipment
),
rules AS (
    SELECT r.id, r.name, r.priority, r.target_service_id AS service_id, s.name AS service_name,
           s.organisation_id AS organisation_id
    FROM routing_routingrule r
    JOIN organisations_service s ON s.id = r.target_service_id AND s.is_active
    CROSS JOIN p
    WHERE r.is_active
      AND (r.valid_from IS NULL OR r.valid_from <= p_today)
      AND (r.valid_until IS NULL OR r.valid_until >= p_today)
      AND (NOT EXISTS (SELECT 1 FROM routing_routingrule_categories x WHERE x.routingrule_id = r.id)
           OR EXISTS (SELECT 1 FROM routing_routingrule_categories x
                      WHERE x.routingrule_id = r.id AND x.category_id = p_category))
      AND (NOT EXISTS (SELECT 1 FROM routing_routingrule_domains x WHERE x.routingrule_id = r.id)
           OR EXISTS (SELECT 1 FROM routing_routingrule_domains x
                      WHERE x.routingrule_id = r.id AND x.domain_id = p_domain))
      AND (NOT EXISTS (SELECT 1 FROM routing_routingrule_communes x WHERE x.routingrule_id = r.id)
           OR EXISTS (SELECT 1 FROM routing_routingrule_communes x
                      JOIN commune ON x.commune_id = commune.id
                      WHERE x.routingrule_id = r.id))
      AND (r.geom IS NULL OR ST_Covers(r.geom, p.g))
      AND (r.near_layer_id IS NULL OR EXISTS (
            SELECT 1 FROM gis_layers_feature f
            WHERE f.layer_id = r.near_layer_id AND ST_DWithin(f.geom, p.g, r.near_distance_m)
              AND (r.near_owner_id IS NULL OR f.owner_organisation_id = r.near_owner_id)))
),
services AS (
    SELECT s.id, s.name, s.organisation_id, s.is_reception,
           EXISTS (SELECT 1 FROM organisations_service_domains d
                   WHERE d.service_id = s.id AND d.domain_id = p_domain) AS handles
    FROM organisations_service s
    WHERE s.is_active AND s.organisation_id IN (
        SELECT id FROM competent UNION SELECT owner_id FROM equipment)
)
SELECT (SELECT row_to_json(commune)::text FROM commune),
       (SELECT row_to_json(competent)::text FROM competent),
       (SELECT row_to_json(equipment)::text FROM equipment),
       (SELECT json_agg(rules ORDER BY priority DESC, id)::text FROM rules),
       (SELECT json_agg(services ORDER BY handles DESC, is_reception DESC, name)::text
          FROM services),
       (SELECT json_build_object('insee', c.insee, 'name', c.name)::text
          FROM territory_communepart cp JOIN territory_commune c ON c.id = cp.commune_id
          WHERE c.epci_id IS NOT NULL
            AND ST_Covers(cp.geom, ST_Transform(ST_SetSRID(ST_MakePoint(p_lat, p_lon), 4326),
                                               2154))
          LIMIT 1);
END
$fn$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0001_categories_and_rules"),
        ("territory", "0002_commune_parts"),
    ]

    operations = [
        migrations.RunSQL(
            sql=FUNCTION,
            reverse_sql="DROP FUNCTION IF EXISTS routing_decide(double precision, double precision, "
            "bigint, bigint, bigint, date)",
        ),
    ]
