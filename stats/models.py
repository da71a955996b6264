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


class MonthCount(models.Model):
    """Requests per creation month, organisation and service, once for "all" and once per
    dashboard breakdown (status, category, commune, channel); kept exact by a trigger
    (migration stats.0004)."""

    month = models.DateField()
    organisation_id = models.IntegerField()  # 0: none
    service_id = models.IntegerField()  # 0: none
    dim = models.CharField(max_length=12)  # all, status, category, commune, channel
    value = models.CharField(max_length=20)
    n = models.IntegerField(default=0)

    class Meta:
        managed = False  # created with its trigger by migration 0004
        db_table = "stats_monthcount"

    def __str__(self) -> str:
        where = f"{self.organisation_id}/{self.service_id}"
        return f"{self.month:%Y-%m} {where} {self.dim}={self.value}"
