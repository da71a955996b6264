"""Intranet pages for GIS layers: the catalogue with QGIS URLs, imports and their progress."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts import permissions
from core import failopen
from gis_layers.api.views import layer_urls
from gis_layers.models import Layer, LayerImport
from gis_layers.selectors import layers_visible_to
from gis_layers.services import layer_import_start, progress_key

from .access import staff_required
from .forms import LayerImportForm


@staff_required
def catalogue(request: HttpRequest) -> HttpResponse:
    layers = layers_visible_to(request.user).order_by("owner_organisation__name", "name")
    rows = [
        {
            "layer": layer,
            "urls": layer_urls(request, layer),
            "can_manage": permissions.can_manage_layer(request.user, layer),
        }
        for layer in layers
    ]
    return render(request, "intranet/layers.html", {"rows": rows})


@staff_required
@require_http_methods(["GET", "POST"])
def layer_detail(request: HttpRequest, slug: str) -> HttpResponse:
    layer = get_object_or_404(
        Layer.objects.select_related("owner_organisation", "owner_service"), slug=slug
    )
    if not permissions.can_read_layer(request.user, layer):
        raise Http404("Couche inconnue.")
    can_manage = permissions.can_manage_layer(request.user, layer)
    form = LayerImportForm()
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(
                "Seuls les responsables du service gestionnaire importent dans cette couche."
            )
        form = LayerImportForm(request.POST, request.FILES)
        if form.is_valid():
            record = _start_import(request, layer, form)
            return redirect("intranet:layer-import", pk=record.pk)
    return render(
        request,
        "intranet/layer_detail.html",
        {
            "layer": layer,
            "urls": layer_urls(request, layer),
            "can_manage": can_manage,
            "form": form,
            "imports": layer.imports.all()[:10],
        },
    )


def _start_import(request: HttpRequest, layer: Layer, form: LayerImportForm) -> LayerImport:
    upload = form.cleaned_data["file"]
    folder = Path(settings.GRC_LAYER_IMPORT_DIR) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "source"  # server-chosen name: the client's name never reaches the disk
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return layer_import_start(
        layer=layer,
        path=path,
        source_name=upload.name[:255],
        created_by=request.user,
        ref_field=form.cleaned_data["ref_field"],
        source_srid=form.cleaned_data["source_srid"],
    )


@staff_required
def layer_import(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(LayerImport.objects.select_related("layer"), pk=pk)
    if not permissions.can_manage_layer(request.user, record.layer):
        raise PermissionDenied("Import d'une couche que vous ne gérez pas.")
    progress = failopen.cache.call(lambda: cache.get(progress_key(record.pk)), None) or {}
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "status": record.status,
                "status_label": record.get_status_display(),
                "progress": progress,
                "total": record.total,
                "imported": record.imported,
                "rejected": record.rejected,
                "message": record.message,
                "errors": record.errors[:50],
            }
        )
    return render(request, "intranet/layer_import.html", {"record": record, "progress": progress})
