"""Urban-equipment layers, their catalogue and the OGC API / GeoJSON / MVT endpoints (issue 3)."""
