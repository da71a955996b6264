// Heatmap of requests (/api/stats/heatmap) for the viewport: grid cells darker where there are
// more requests; per equipment of the problem's layers (data-mode="equipment"); communes per
// 1,000 inhabitants (data-mode="inhabitants"); with a second period, cells red where requests
// rose and blue where they fell. data-query carries the page's filters. The table beside the
// map gives the figures per commune (the non-map path).
import { textElement } from "./dom.js";
import { gettext } from "./i18n.js";
import { addContext } from "./own-data.js";

const element = document.getElementById("heat-map");
const config = JSON.parse(document.getElementById("map-config").textContent);
const api = element.dataset.api;
const query = element.dataset.query || "";
const mode = element.dataset.mode || "";
const k = Number(element.dataset.k || "1");
const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addContext(map, config); // our communes, streets and equipment under the cells (own-data.js)
// The whole agglomeration (the portal's default view is the town).
const TERRITORY_ZOOM = mode === "inhabitants" ? 11 : 12;
map.setView(config.center, TERRITORY_ZOOM);

const BLUE = "#000091";
const RED = "#ce0500";
const number = new Intl.NumberFormat(document.documentElement.lang || "fr");

function valueOf(p) {
  if (p.change !== undefined) return Math.abs(p.change);
  if (mode === "inhabitants") return p.per1000 ?? 0;
  if (mode === "equipment") return p.perEquipment ?? 0;
  return p.count ?? 0;
}

function label(p) {
  const parts = [];
  if (p.name) parts.push(p.name);
  parts.push(p.count === null
    ? gettext("moins de %(k)s demandes", { k })
    : gettext("%(n)s demandes", { n: number.format(p.count) }));
  if (p.per1000 !== undefined && p.per1000 !== null) {
    parts.push(gettext("%(n)s pour 1 000 habitants", { n: number.format(p.per1000) }));
  }
  if (p.equipment !== undefined) {
    parts.push(gettext("%(n)s équipements, %(rate)s par équipement", {
      n: number.format(p.equipment), rate: number.format(p.perEquipment),
    }));
  }
  if (p.change !== undefined && p.change !== null) {
    parts.push(gettext("période comparée : %(n)s (%(change)s)", {
      n: number.format(p.previous), change: `${p.change > 0 ? "+" : ""}${number.format(p.change)}`,
    }));
  }
  return parts.join(" · ");
}

const layer = L.geoJSON(null, {
  style: (f) => ({
    weight: mode === "inhabitants" ? 1 : 0,
    color: "#666",
    fillColor: f.properties.change !== undefined && f.properties.change > 0 ? RED : BLUE,
    fillOpacity: f.properties.opacity,
  }),
  onEachFeature: (f, l) => l.bindTooltip(textElement(label(f.properties))),
}).addTo(map);

let pending = null;
function refresh() {
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  if (pending) pending.abort();
  pending = new AbortController();
  const url = `${api}?bbox=${bbox}&zoom=${map.getZoom()}${query ? `&${query}` : ""}`;
  fetch(url, { signal: pending.signal, credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((collection) => {
      const top = Math.max(1e-9, ...collection.features.map((f) => valueOf(f.properties)));
      for (const f of collection.features) {
        f.properties.opacity = valueOf(f.properties) > 0 ? 0.15 + 0.65 * (valueOf(f.properties) / top) : 0.05;
      }
      layer.clearLayers();
      layer.addData(collection);
      element.dataset.cells = String(collection.features.length);
      element.dataset.total = String(collection.total);
    })
    .catch((error) => { if (error.name !== "AbortError") element.dataset.error = String(error); });
}
// Communes do not depend on the viewport: fetched once.
if (mode !== "inhabitants") map.on("moveend", refresh);
refresh();
