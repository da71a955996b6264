// The tracking page's map: the report's public point (never the exact one: the page only
// carries the public point) over our own context layers; the equipment of its kind around it
// is labelled by its number, written and not on hover (phones have none), as in the list
// beside the map.
import { textElement } from "./dom.js";
import { addContext } from "./own-data.js";

const element = document.getElementById("place-map");
const place = JSON.parse(document.getElementById("report-place").textContent);
const config = JSON.parse(document.getElementById("map-config").textContent);
const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addContext(map, config, { labelMinZoom: 19 }); // at 18 its own kind is labelled below
map.setView([place.lat, place.lon], 18);
for (const item of place.equipment) {
  L.circleMarker([item.lat, item.lon], {
    pane: "markerPane", interactive: false, radius: 5, color: "#1b1b1b", weight: 2, fillColor: "#ffffff", fillOpacity: 1,
  }).bindTooltip(textElement(item.ref), {
    permanent: true, direction: "right", offset: [6, 0], className: "context-label place-label",
  }).addTo(map);
}
const style = (config.statuses || {})[place.status] || { colour: "#000091" };
L.circleMarker([place.lat, place.lon], {
  pane: "markerPane", radius: 11, color: "#ffffff", weight: 3, fillColor: style.colour, fillOpacity: 1,
  interactive: false, className: "report-point",
}).addTo(map);
element.dataset.point = `${place.lon},${place.lat}`;
element.dataset.labels = String(place.equipment.length);
