// Reporting map: a click (or "use my position") fills the same fields as the address search and
// posts the form back to see who handles it and the equipment around; clicking an equipment
// marker picks it in the list. Everything here is also doable without the map.
import { textElement } from "./dom.js";
import { gettext } from "./i18n.js";
import { addStreets } from "./own-data.js";

const form = document.getElementById("report-form");
const element = document.getElementById("report-map");
if (form && element) {
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const equipment = JSON.parse(document.getElementById("equipment-points").textContent);
  const lon = form.querySelector("#id_lon");
  const lat = form.querySelector("#id_lat");
  const label = form.querySelector("#id_address_label");
  const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
  if (config.basemap) {
    L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
  }
  fetch("/api/territory/communes/").then((r) => r.json()).then((c) => {
    L.geoJSON(c, { style: { color: "#000091", weight: 1.5, fillOpacity: 0.04 }, interactive: false }).addTo(map);
  }).catch(() => {});
  addStreets(map, config.streetsUrl, { minZoom: 15 });
  const known = lon.value && lat.value;
  if (known) map.setView([Number(lat.value), Number(lon.value)], 18);
  else map.setView(config.center, 15);
  let pin = known ? L.marker([Number(lat.value), Number(lon.value)], { keyboard: false, title: gettext("Lieu choisi") }).addTo(map) : null;

  const locate = (latlng) => {
    // The point clicked, not an address or photo position still offered above the map.
    for (const choice of form.querySelectorAll('input[name="address_choice"]')) choice.checked = false;
    lon.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    label.value = "";
    if (pin) pin.setLatLng(latlng); else pin = L.marker(latlng, { keyboard: false }).addTo(map);
    const action = document.createElement("input");
    action.type = "hidden"; action.name = "action"; action.value = "locate";
    form.appendChild(action);
    element.dataset.state = "posting";
    form.submit();
  };
  map.on("click", (event) => locate(event.latlng));

  for (const item of equipment) {
    const marker = L.circleMarker([item.lat, item.lon], { radius: 8, color: "#000091", weight: 2, fillColor: "#ffffff", fillOpacity: 1 })
      .bindTooltip(textElement(`${item.ref} – ${item.layer_name}`))
      .addTo(map);
    marker.on("click", (event) => {
      L.DomEvent.stopPropagation(event);
      const radio = form.querySelector(`#equipment-${item.id}`);
      if (radio) radio.checked = true;
      if (pin) pin.setLatLng([item.lat, item.lon]);
      element.dataset.picked = item.ref;
    });
  }
  element.dataset.equipment = String(equipment.length);

  const me = document.getElementById("locate-me");
  if (me && "geolocation" in navigator) {
    me.hidden = false;
    me.addEventListener("click", () => {
      navigator.geolocation.getCurrentPosition(
        (position) => locate(L.latLng(position.coords.latitude, position.coords.longitude)),
        () => { me.textContent = gettext("Position indisponible : utilisez l'adresse ou la carte"); },
        { enableHighAccuracy: true, timeout: 10000 },
      );
    });
  }
  const errors = document.getElementById("form-errors");
  if (errors) errors.focus();
}
