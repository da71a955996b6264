"""Maintained aggregates for heatmaps: requests counted per grid cell, month and filter.

Kept exact by a trigger on the request table (migration stats.0002): a request counts in each
maintained grid level (cells of 25 m × 2^level in Lambert-93, levels 3 to 7) under its month,
once for "all" and once per filter dimension (category, status, service, organisation). A
heatmap then sums a few thousand rows instead of snapping every request.
"""

from django.db import models


class HeatCell(models.Model):
    level = models.SmallIntegerField()
    month = models.DateField()
    ix = models.IntegerField()
    iy = models.IntegerField()
    dim = models.CharField(max_length=12)  # all, category, status, service, organisation
    value = models.CharField(max_length=20)
    n = models.IntegerField(default=0)

    class Meta:
        managed = False  # created with its trigger by migration 0002
        db_table = "stats_heatcell"

    def __str__(self) -> str:
        return f"{self.level}:{self.ix},{self.iy} {self.month:%Y-%m} {self.dim}={self.value}"
