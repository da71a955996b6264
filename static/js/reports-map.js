// Public map of reports: what is in view, clustered by the server below zoom 16, with the
// page's filters, over our own context layers (own-data.js). Each report is drawn in its
// status's colour and shape (core.maps.STATUS_STYLES, the legend below the map says which);
// a group shows its number. The list beside the map gives the same reports without it.
import { textElement } from "./dom.js";
import { gettext } from "./i18n.js";
import { addContext } from "./own-data.js";

const element = document.getElementById("reports-map");
const config = JSON.parse(document.getElementById("map-config").textContent);
const styles = config.statuses || {};
const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addContext(map, config);
map.setView(config.center, 14);
const layer = L.layerGroup().addTo(map);
const filters = new URLSearchParams(window.location.search);
let pending = null;

// A circle marker whose outline is its status's shape (SVG renderer): still one SVG path,
// clickable and drawn by Leaflet like any other.
const ShapeMarker = L.CircleMarker.extend({
  _updatePath() {
    const shape = this.options.shape;
    if (!Array.isArray(shape) || !this._renderer._setPath) {
      L.CircleMarker.prototype._updatePath.call(this);
      return;
    }
    const p = this._point;
    const r = this._radius;
    const d = `M${shape.map(([x, y]) => `${(p.x + x * r).toFixed(1)} ${(p.y + y * r).toFixed(1)}`).join("L")}Z`;
    this._renderer._setPath(this, d);
  },
});

function reportMarker(lat, lon, status) {
  const style = styles[status] || { colour: "#000091", shape: "circle" };
  return new ShapeMarker([lat, lon], {
    shape: style.shape, radius: 8, color: style.hollow ? style.colour : "#ffffff",
    weight: style.hollow ? 3.5 : 1.5, fillColor: style.hollow ? "#ffffff" : style.colour, fillOpacity: 1,
    className: `report-marker status-${status}`,
  });
}

function clusterMarker(lat, lon, count) {
  const icon = L.divIcon({ className: "report-cluster", html: "", iconSize: [30, 30] });
  const marker = L.marker([lat, lon], { icon, keyboard: false, title: gettext("%(n)s signalements", { n: count }) });
  marker.on("add", () => {
    const el = marker.getElement();
    if (el) el.replaceChildren(textElement(String(count)));
  });
  return marker;
}

function refresh() {
  const b = map.getBounds();
  const params = new URLSearchParams({
    bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(","),
    zoom: String(map.getZoom()),
  });
  for (const name of ["category", "status", "since", "until"]) {
    if (filters.get(name)) params.set(name, filters.get(name));
  }
  if (pending) pending.abort();
  pending = new AbortController();
  fetch(`/api/reports/map/?${params}`, { signal: pending.signal })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((collection) => {
      layer.clearLayers();
      for (const feature of collection.features) {
        const [lon, lat] = feature.geometry.coordinates;
        const p = feature.properties;
        if (p.count > 1) {
          const marker = clusterMarker(lat, lon, p.count);
          marker.on("click", () => map.setView([lat, lon], Math.min(map.getZoom() + 2, 18)));
          marker.addTo(layer);
          continue;
        }
        const marker = reportMarker(lat, lon, p.status);
        const popup = document.createElement("div");  // text nodes only: no HTML from data
        const link = document.createElement("a");
        link.href = `/signalements/${encodeURIComponent(p.reference)}/`;
        link.textContent = p.category_name;
        const label = styles[p.status] ? document.querySelector(`[data-status-label="${p.status}"]`)?.textContent : "";
        popup.append(link, document.createElement("br"), `${p.reference} – ${p.created_at}`);
        if (label) popup.append(document.createElement("br"), label);
        marker.bindPopup(popup);
        marker.bindTooltip(textElement(label ? `${p.category_name} – ${label}` : p.category_name));
        marker.addTo(layer);
      }
      element.dataset.reports = String(collection.numberMatched);
    })
    .catch((error) => { if (error.name !== "AbortError") element.dataset.error = String(error); });
}
map.on("moveend", refresh);
refresh();

// On a phone the filters fold into a button (aria-expanded) so that the map comes first; they
// stay open after a filter error. Without this script they are simply shown.
const toggle = document.getElementById("filters-toggle");
const panel = document.getElementById("filters-panel");
if (toggle && panel) {
  const narrow = window.matchMedia("(max-width: 47.99rem)");
  let open = panel.dataset.open === "true";
  const apply = () => {
    toggle.hidden = !narrow.matches;
    toggle.setAttribute("aria-expanded", String(open || !narrow.matches));
    panel.hidden = narrow.matches && !open;
    map.invalidateSize();
  };
  toggle.addEventListener("click", () => { open = !open; apply(); });
  narrow.addEventListener("change", apply);
  apply();
}
