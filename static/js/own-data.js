// Our own vector data under every map, so that it stays readable with no basemap or no network
// (offline, IGN down, BASEMAP=none): the communes (outlines and names), the streets layer and
// the public equipment with its number written beside it at street zooms (phones have no
// hover). Everything comes from our own APIs; nothing is interactive, the page's own markers
// stay on top. Used by every map: addContext(map) reads the page's #map-config itself.
import { textElement } from "./dom.js";

const COMMUNES_URL = "/api/territory/communes/";

/** The page's map configuration (core.maps.map_config, json_script "map-config"), or {}. */
export function pageMapConfig() {
  const element = document.getElementById("map-config");
  return element ? JSON.parse(element.textContent) : {};
}

function pane(map, name, zIndex) {
  if (!map.getPane(name)) map.createPane(name).style.zIndex = String(zIndex);
  return name;
}

function getJSON(url, signal) {
  return fetch(url, { headers: { Accept: "application/geo+json" }, credentials: "same-origin", signal })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))));
}

/**
 * Draw our context layers under the map's own content.
 * Options: communes (false when the page draws them itself), streetsMinZoom, equipmentMinZoom
 * (equipment read per viewport from then on), labelMinZoom (equipment numbers written from
 * then on, those that would overlap another left out; commune names below it). Returns the three layers.
 * The map's element gets data-context-communes / -streets / -equipment: how many were drawn.
 */
export function addContext(map, config = pageMapConfig(), options = {}) {
  const { communes = true, streetsMinZoom = 15, equipmentMinZoom = 17, labelMinZoom = 18 } = options;
  const element = map.getContainer();
  element.classList.add("has-context");
  const contextPane = pane(map, "context", 350); // above the basemap, under the overlays (400)
  const equipmentPane = pane(map, "equipment", 360);
  // Our labels stay under the page's own markers and popups.
  const labelPane = pane(map, "contextLabels", 370);

  const communesLayer = L.geoJSON(null, {
    pane: contextPane, interactive: false,
    style: { color: "#000091", weight: 1.5, opacity: 0.8, fill: false },
    onEachFeature: (feature, layer) => layer.bindTooltip(textElement(feature.properties.name), {
      permanent: true, direction: "center", className: "context-label commune-name", pane: labelPane,
    }),
  });
  if (communes) {
    communesLayer.addTo(map);
    getJSON(config.communesUrl || COMMUNES_URL)
      .then((collection) => {
        communesLayer.addData(collection);
        element.dataset.contextCommunes = String(collection.features.length);
      })
      .catch(() => {});
  }

  const streetsLayer = L.geoJSON(null, {
    pane: contextPane, interactive: false, style: { color: "#6a6a6a", weight: 2, opacity: 0.9 },
  });
  if (config.streetsUrl) {
    getJSON(config.streetsUrl)
      .then((collection) => {
        streetsLayer.addData(collection);
        element.dataset.contextStreets = String(collection.features.length);
      })
      .catch(() => {});
  }

  const equipmentLayer = L.layerGroup([], { pane: equipmentPane });
  const layers = config.equipment || [];
  let pending = null;
  const loadEquipment = () => {
    if (pending) pending.abort();
    equipmentLayer.clearLayers();
    if (!layers.length || map.getZoom() < equipmentMinZoom) {
      element.dataset.contextEquipment = "0";
      return;
    }
    pending = new AbortController();
    const b = map.getBounds().pad(0.1);
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    const { signal } = pending;
    // One layer that fails (an error, a timeout) leaves the others drawn.
    Promise.allSettled(layers.map((layer) => getJSON(`${layer.url}?bbox=${bbox}&limit=500`, signal)
      .then((collection) => ({ layer, collection }))))
      .then((results) => {
        if (signal.aborted) return; // the map moved on: a newer request draws
        const answers = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
        let count = 0;
        for (const { layer, collection } of answers) {
          for (const feature of collection.features || []) {
            const geometry = feature.geometry;
            if (!geometry) continue;
            const points = geometry.type === "MultiPoint" ? geometry.coordinates : [geometry.coordinates];
            const ref = feature.properties.ref || "";
            for (const [lon, lat] of points) {
              const marker = L.circleMarker([lat, lon], {
                pane: equipmentPane, interactive: false, radius: 3,
                color: "#4a4a4a", weight: 1.5, fillColor: "#ffffff", fillOpacity: 1,
              });
              // The number written beside the marker: readable by touch, not only on hover.
              if (ref) {
                marker.bindTooltip(textElement(ref), {
                  permanent: true, direction: "right", offset: [4, 0],
                  className: "context-label equipment-label", pane: labelPane,
                });
              }
              marker.feature = { properties: { ref, layer: layer.name } };
              equipmentLayer.addLayer(marker);
              count += 1;
            }
          }
        }
        element.dataset.contextEquipment = String(count);
        declutter();
      })
      .catch(() => {});
  };

  // A street has more equipment than room for its numbers: a label that would overlap one
  // already written is left out (zooming in shows it).
  const declutter = () => {
    if (map.getZoom() < labelMinZoom) return;
    const kept = [];
    equipmentLayer.eachLayer((marker) => {
      const label = marker.getTooltip()?.getElement();
      if (!label) return;
      label.classList.remove("label-crowded");
      const box = label.getBoundingClientRect();
      const crowded = kept.some((k) => box.left < k.right && box.right > k.left && box.top < k.bottom && box.bottom > k.top);
      if (crowded) label.classList.add("label-crowded");
      else kept.push(box);
    });
  };

  const onZoom = () => {
    const zoom = map.getZoom();
    if (zoom >= streetsMinZoom) streetsLayer.addTo(map);
    else streetsLayer.remove();
    if (zoom >= equipmentMinZoom) equipmentLayer.addTo(map);
    else equipmentLayer.remove();
    element.classList.toggle("context-labels", zoom >= labelMinZoom);
    declutter();
  };
  map.on("zoomend", onZoom);
  map.on("moveend", loadEquipment);
  map.whenReady(() => { onZoom(); loadEquipment(); });
  return { communes: communesLayer, streets: streetsLayer, equipment: equipmentLayer };
}
