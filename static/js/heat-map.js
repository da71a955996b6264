// Heatmap of requests: grid cells with counts for the viewport (/api/stats/heatmap), darker
// where there are more; the table beside the map gives the figures per commune.
import { addStreets } from "./own-data.js";

const element = document.getElementById("heat-map");
const config = JSON.parse(document.getElementById("map-config").textContent);
const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addStreets(map, config.streetsUrl, { minZoom: 15 });
map.setView(config.center, 12);
const layer = L.geoJSON(null, {
  style: (f) => ({ weight: 0, fillColor: "#000091", fillOpacity: f.properties.opacity }),
  onEachFeature: (f, l) => l.bindTooltip(`${f.properties.count} demandes`),
}).addTo(map);
let pending = null;
function refresh() {
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  if (pending) pending.abort();
  pending = new AbortController();
  fetch(`/api/stats/heatmap?bbox=${bbox}&zoom=${map.getZoom()}`, { signal: pending.signal })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((collection) => {
      const top = Math.max(1, ...collection.features.map((f) => f.properties.count));
      for (const f of collection.features) f.properties.opacity = 0.15 + 0.65 * (f.properties.count / top);
      layer.clearLayers();
      layer.addData(collection);
      element.dataset.cells = String(collection.features.length);
    })
    .catch((error) => { if (error.name !== "AbortError") element.dataset.error = String(error); });
}
map.on("moveend", refresh);
refresh();
