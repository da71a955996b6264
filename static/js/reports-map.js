// Public map of reports: what is in view, clustered by the server below zoom 16, with the
// page's filters. The list beside the map gives the same reports without it.
import { textElement } from "./dom.js";
import { gettext } from "./i18n.js";
import { addStreets } from "./own-data.js";

const element = document.getElementById("reports-map");
const config = JSON.parse(document.getElementById("map-config").textContent);
const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addStreets(map, config.streetsUrl, { minZoom: 15 });
map.setView(config.center, 14);
const layer = L.layerGroup().addTo(map);
const filters = new URLSearchParams(window.location.search);
let pending = null;

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
        const marker = L.circleMarker([lat, lon], {
          radius: p.count > 1 ? Math.min(8 + Math.sqrt(p.count) * 3, 28) : 7,
          color: "#000091", weight: 2, fillColor: p.count > 1 ? "#6a6af4" : "#ffffff", fillOpacity: 0.9,
        });
        if (p.count > 1) {
          marker.bindTooltip(textElement(gettext("%(n)s signalements", { n: p.count })));
          marker.on("click", () => map.setView([lat, lon], Math.min(map.getZoom() + 2, 18)));
        } else {
          const popup = document.createElement("div");  // text nodes only: no HTML from data
          const link = document.createElement("a");
          link.href = `/signalements/${encodeURIComponent(p.reference)}/`;
          link.textContent = p.category_name;
          popup.append(link, document.createElement("br"), `${p.reference} – ${p.created_at}`);
          marker.bindPopup(popup);
        }
        marker.addTo(layer);
      }
      element.dataset.reports = String(collection.numberMatched);
    })
    .catch((error) => { if (error.name !== "AbortError") element.dataset.error = String(error); });
}
map.on("moveend", refresh);
refresh();
