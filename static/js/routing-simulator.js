// Simulator map: a click fills the longitude and latitude fields (the form works without it).
import { addContext } from "./own-data.js";

const config = JSON.parse(document.getElementById("map-config").textContent);
const lon = document.getElementById("id_lon");
const lat = document.getElementById("id_lat");
const map = L.map("simulator-map", { minZoom: config.minZoom, maxZoom: config.maxZoom });
map.setView(config.center, 13);
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addContext(map, config, { streetsMinZoom: 13 }); // our communes, streets and equipment
let marker = null;
function place(latlng) {
  if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng, { keyboard: false }).addTo(map);
}
if (lon.value && lat.value) {
  place([Number(lat.value), Number(lon.value)]);
  map.setView([Number(lat.value), Number(lon.value)], 16);
}
map.on("click", (event) => {
  lon.value = event.latlng.lng.toFixed(6);
  lat.value = event.latlng.lat.toFixed(6);
  place(event.latlng);
});
