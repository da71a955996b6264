"""Citizen reports on the public space: journey, photos, tracking, duplicates (issue 5)."""
