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

// Five classes of equal width from 0 to the largest value in view; the legend under the map
// gives each class's range, colour and number of cells (or communes).
const CLASSES = 5;
const OPACITIES = [0.15, 0.3, 0.45, 0.6, 0.8];

function breaksFor(top) {
  const step = top / CLASSES;
  const whole = mode === "" || mode === undefined;
  return Array.from({ length: CLASSES }, (_, i) => {
    const high = i === CLASSES - 1 ? top : step * (i + 1);
    return whole ? Math.ceil(high) : Math.round(high * 100) / 100;
  });
}

function classOf(value, breaks) {
  const i = breaks.findIndex((b) => value <= b);
  return i === -1 ? breaks.length - 1 : i;
}

function colourOf(p) {
  return p.change !== undefined && p.change > 0 ? RED : BLUE;
}

// The legend: the page's #heat-legend under the map, or else a box in the map's corner.
const legend = document.getElementById("heat-legend") || (() => {
  const made = L.DomUtil.create("div", "heat-legend heat-legend-control");
  made.id = "heat-legend";
  const control = L.control({ position: "bottomright" });
  control.onAdd = () => made;
  control.addTo(map);
  return made;
})();

function textOf(text, tag, className) {
  const made = document.createElement(tag);
  made.textContent = String(text);
  if (className) made.className = className;
  return made;
}

function legendTitle() {
  if (query.includes("compare_since")) return gettext("Évolution entre les deux périodes");
  if (mode === "inhabitants") return gettext("Demandes pour 1 000 habitants");
  if (mode === "equipment") return gettext("Demandes par équipement");
  return gettext("Demandes par zone");
}

function drawLegend(collection, breaks) {
  const counts = breaks.map(() => 0);
  for (const f of collection.features) {
    if (valueOf(f.properties) > 0) counts[f.properties.klass] += 1;
  }
  legend.replaceChildren();
  legend.append(textOf(legendTitle(), "p", "heat-legend-title"));
  const list = document.createElement("ul");
  list.className = "heat-legend-classes";
  const unit = mode === "inhabitants" ? gettext("communes") : gettext("zones");
  breaks.forEach((high, i) => {
    const low = i === 0 ? 0 : breaks[i - 1];
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "heat-swatch";
    swatch.style.backgroundColor = BLUE;
    swatch.style.opacity = String(OPACITIES[i]);
    item.append(swatch, textOf(gettext("%(low)s à %(high)s : %(n)s %(unit)s", {
      low: number.format(low), high: number.format(high), n: number.format(counts[i]), unit,
    }), "span"));
    list.append(item);
  });
  legend.append(list);
  if (query.includes("compare_since")) {
    legend.append(textOf(gettext("Rouge : hausse ; bleu : baisse (écart absolu)."), "p", "hint"));
  }
  const hidden = collection.suppressedCells || 0;
  if (k > 1 && hidden) {
    legend.append(textOf(gettext("%(n)s zones de moins de %(k)s demandes non affichées.", { n: number.format(hidden), k }), "p", "hint"));
  }
  legend.dataset.classes = String(breaks.length);
}

const layer = L.geoJSON(null, {
  style: (f) => ({
    weight: mode === "inhabitants" ? 1 : 0,
    color: "#666",
    fillColor: colourOf(f.properties),
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
      const breaks = breaksFor(top);
      for (const f of collection.features) {
        const value = valueOf(f.properties);
        f.properties.klass = classOf(value, breaks);
        f.properties.opacity = value > 0 ? OPACITIES[f.properties.klass] : 0.05;
      }
      layer.clearLayers();
      layer.addData(collection);
      drawLegend(collection, breaks);
      element.dataset.cells = String(collection.features.length);
      element.dataset.total = String(collection.total);
    })
    .catch((error) => { if (error.name !== "AbortError") element.dataset.error = String(error); });
}
// Communes do not depend on the viewport: fetched once.
if (mode !== "inhabitants") map.on("moveend", refresh);
refresh();
