"""Maintained aggregates for heatmaps: requests counted per grid cell, month and filter.

Kept exact by a trigger on the request table (migration stats.0002): a request counts once in
each of the eight grid levels (cells of 25 m × 2^level in Lambert-93), under its month,
category, status, service and organisation. A heatmap then sums a few thousand rows instead of
snapping every request.
"""

from django.db import models


class HeatCell(models.Model):
    level = models.SmallIntegerField()
    ix = models.IntegerField()
    iy = models.IntegerField()
    month = models.DateField()
    category_id = models.BigIntegerField(null=True)
    status = models.CharField(max_length=20)
    service_id = models.BigIntegerField(null=True)
    organisation_id = models.BigIntegerField(null=True)
    n = models.IntegerField(default=0)

    class Meta:
        managed = False  # created with its trigger by migration 0002 (NULLS NOT DISTINCT key)
        db_table = "stats_heatcell"

    def __str__(self) -> str:
        return f"{self.level}:{self.ix},{self.iy} {self.month:%Y-%m} ({self.n})"
