// The report form, continued in place. A map tap (or "use my position"), an address search, a
// category chosen and the other step buttons post the form as before, but by fetch with
// X-Journey: 1; the server answers the form alone and its parts marked data-live replace those
// of the page. The rest stays as it is: the scroll position, what was typed, the photos chosen
// (a file input survives only if the page is not reloaded). The server decides routing,
// questions and errors; without this script the same buttons post the page (progressive
// enhancement). What changed is announced in #journey-announce, and focus follows the step.
import { textElement } from "./dom.js";
import { gettext } from "./i18n.js";
import { addContext } from "./own-data.js";

const form = document.getElementById("report-form");
const element = document.getElementById("report-map");
const announcer = document.getElementById("journey-announce");

if (form && element && window.fetch && window.DOMParser) {
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const field = (id) => form.querySelector(`#${id}`); // the hidden fields are replaced: look up each time
  const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom });
  if (config.basemap) {
    L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
  }
  addContext(map, config);
  let pin = null;
  const markers = L.layerGroup().addTo(map);

  const placed = () => {
    const lon = field("id_lon").value;
    const lat = field("id_lat").value;
    return lon && lat ? L.latLng(Number(lat), Number(lon)) : null;
  };
  const showPin = (latlng, { centre = false } = {}) => {
    if (!latlng) return;
    if (pin) pin.setLatLng(latlng);
    else pin = L.marker(latlng, { keyboard: false, title: gettext("Lieu choisi") }).addTo(map);
    if (centre) map.setView(latlng, Math.max(map.getZoom() || 0, 17)); // moves the map, never the page
  };
  const drawEquipment = () => {
    markers.clearLayers();
    const data = document.getElementById("equipment-points");
    const equipment = data ? JSON.parse(data.textContent) : [];
    for (const item of equipment) {
      // Big enough to tap (a phone has no hover); the list under "Qui va s'en occuper" does the same.
      const marker = L.circleMarker([item.lat, item.lon], { radius: 12, color: "#000091", weight: 3, fillColor: "#ffffff", fillOpacity: 1 })
        .bindTooltip(textElement(`${item.ref} – ${item.layer_name}`))
        .addTo(markers);
      marker.on("click", (event) => {
        L.DomEvent.stopPropagation(event);
        const radio = form.querySelector(`#equipment-${item.id}`);
        if (radio) radio.checked = true;
        showPin(L.latLng(item.lat, item.lon));
        element.dataset.picked = item.ref;
        announce(gettext("Équipement choisi : %(label)s.", { label: `${item.ref} – ${item.layer_name}` }));
      });
    }
    element.dataset.equipment = String(equipment.length);
  };

  const start = placed();
  map.setView(start || config.center, start ? 18 : 15);
  showPin(start);
  drawEquipment();

  let announced = 0;
  function announce(text) {
    if (!announcer || !text) return;
    // emptied first, so that the same sentence twice is still read out
    announcer.textContent = "";
    const turn = ++announced;
    window.setTimeout(() => { if (turn === announced) announcer.textContent = text; }, 50);
  }

  // After a swap: the fields whose error text changed say so to assistive technologies.
  const markErrors = () => {
    for (const errors of form.querySelectorAll("[data-error-for]")) {
      const input = form.querySelector(`#${errors.dataset.errorFor}`);
      if (!input) continue;
      const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== errors.id);
      if (errors.textContent.trim()) {
        input.setAttribute("aria-invalid", "true");
        ids.push(errors.id);
      } else {
        input.removeAttribute("aria-invalid");
      }
      if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
      else input.removeAttribute("aria-describedby");
    }
  };

  const swap = (html, { moveFocus }) => {
    const fresh = new DOMParser().parseFromString(html, "text/html");
    const before = placed();
    for (const part of fresh.querySelectorAll("[data-live]")) {
      const old = document.getElementById(part.id);
      if (old) old.replaceWith(document.importNode(part, true));
    }
    markErrors();
    drawEquipment();
    const after = placed();
    if (after && (!before || !before.equals(after) || !pin)) showPin(after, { centre: moveFocus });
    else if (after) showPin(after);
    const state = document.getElementById("journey-state");
    announce(state.dataset.announce);
    const target = state.dataset.focus && document.getElementById(state.dataset.focus);
    // Focus moves to what the step produced when a button was used (the map keeps it), or
    // when the element that had it was replaced.
    if (target && (moveFocus || !document.body.contains(document.activeElement) || document.activeElement === document.body)) {
      target.focus();
    }
  };

  let controller = null;
  let fallback = false; // the server could not answer in place: post the page as without script
  const step = async ({ action = "", submitter = null, moveFocus = true }) => {
    const data = new FormData(form);
    data.delete("action");
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    else data.set("action", action);
    const sending = data.get("action");
    // Photos travel only with the report; the photo read for its GPS only with that lookup.
    if (sending !== "submit") data.delete("photos");
    if (sending !== "photo") data.delete("place_photo");
    if (controller) controller.abort();
    controller = new AbortController();
    form.setAttribute("aria-busy", "true");
    element.dataset.state = "posting";
    try {
      const response = await fetch(window.location.pathname, {
        method: "POST", body: data, headers: { "X-Journey": "1" }, credentials: "same-origin", signal: controller.signal,
      });
      const next = response.headers.get("X-Journey-Location");
      if (next) {
        window.location.assign(next);
        return;
      }
      if (!response.ok && ![400, 429].includes(response.status)) throw new Error(`HTTP ${response.status}`);
      swap(await response.text(), { moveFocus });
      element.dataset.state = "ready";
    } catch (error) {
      if (error.name === "AbortError") return;
      fallback = true;
      if (submitter) form.requestSubmit(submitter);
      else {
        const hidden = Object.assign(document.createElement("input"), { type: "hidden", name: "action", value: action });
        form.appendChild(hidden);
        form.submit();
      }
    } finally {
      form.removeAttribute("aria-busy");
    }
  };

  form.addEventListener("submit", (event) => {
    if (fallback) return;
    event.preventDefault();
    step({ submitter: event.submitter });
  });

  const locate = (latlng) => {
    // The point tapped, not an address or a photo's position still offered on the page.
    for (const choice of form.querySelectorAll('input[name="address_choice"]')) choice.checked = false;
    field("id_lon").value = latlng.lng.toFixed(6);
    field("id_lat").value = latlng.lat.toFixed(6);
    field("id_address_label").value = "";
    showPin(latlng);
    step({ action: "locate", moveFocus: false });
  };
  map.on("click", (event) => locate(event.latlng));

  // The problem chosen updates the page at once; its button is for the page without script.
  const category = form.querySelector("#id_category");
  const categoryButton = form.querySelector("#category-go");
  if (categoryButton) categoryButton.hidden = true;
  let categoryTimer = 0;
  category.addEventListener("change", () => {
    window.clearTimeout(categoryTimer); // arrow keys on a closed list change it at each press
    categoryTimer = window.setTimeout(() => step({ action: "category", moveFocus: false }), 250);
  });

  const me = document.getElementById("locate-me");
  if (me && "geolocation" in navigator) {
    me.hidden = false;
    me.addEventListener("click", () => {
      navigator.geolocation.getCurrentPosition(
        (position) => {
          const latlng = L.latLng(position.coords.latitude, position.coords.longitude);
          map.setView(latlng, 18);
          locate(latlng);
        },
        () => { me.textContent = gettext("Position indisponible : utilisez l'adresse ou la carte"); },
        { enableHighAccuracy: true, timeout: 10000 },
      );
    });
  }
  element.dataset.state = "ready";
  const errors = document.getElementById("form-errors");
  if (errors) errors.focus();
}
