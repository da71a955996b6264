"""Import a vector file into a layer (replacing its features atomically), read in batches."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gis_layers.models import Layer
from gis_layers.readers import ReadError
from gis_layers.services import layer_import_file
from organisations.models import Organisation


class Command(BaseCommand):
    help = "Import GeoJSON, GeoPackage, zipped Shapefile or CSV (lon/lat) into a layer."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--ref-field", help="property holding the visible identifier")
        parser.add_argument("--owner-field", help="property holding the owner organisation's slug")
        parser.add_argument("--srid", type=int, help="EPSG code when the file does not say")
        parser.add_argument("--create", action="store_true", help="create the layer if missing")
        parser.add_argument("--name")
        parser.add_argument("--owner", help="owner organisation slug (with --create)")
        parser.add_argument(
            "--geometry-type", default="Geometry", choices=Layer.GeometryType.values
        )
        parser.add_argument("--visibility", default="public", choices=Layer.Visibility.values)

    def handle(self, *args, slug, file, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            if not options["create"]:
                raise CommandError(f"Unknown layer {slug!r} (use --create --owner ORG).")
            owner = Organisation.objects.filter(slug=options["owner"] or "").first()
            if owner is None:
                raise CommandError("--create needs --owner with an organisation slug.")
            layer = Layer.objects.create(
                slug=slug,
                name=options["name"] or slug,
                owner_organisation=owner,
                geometry_type=options["geometry_type"],
                visibility=options["visibility"],
            )

        def progress(stage, done, total):
            # total is 0 when the file does not tell it (GeoJSON, CSV) before being read
            self.stdout.write(f"  {stage}: {done}/{total}" if total else f"  {stage}: {done}")

        try:
            result, fmt, srid = layer_import_file(
                layer=layer,
                path=file,
                source_srid=options["srid"],
                ref_field=options["ref_field"],
                owner_field=options["owner_field"],
                progress=progress,
            )
        except ReadError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{layer.slug}: {result.imported} imported, {result.rejected} rejected "
            f"of {result.total} "
            f"({fmt}, EPSG:{srid})."
        )
        for err in result.errors[:20]:
            self.stdout.write(f"  feature {err['feature']} ({err['ref']}): {err['reason']}")
