// Territory map: the 14 communes drawn from our own data (works with no basemap and no network).
// The same information is in the list of communes beside the map.
import { textElement } from "./dom.js";
import { addContext } from "./own-data.js";

const config = JSON.parse(document.getElementById("map-config").textContent);
const element = document.getElementById("territory-map");
const map = L.map(element, { minZoom: config.minZoom, maxZoom: config.maxZoom, keyboard: true });
map.setView(config.center, 11);
if (config.basemap) {
  L.tileLayer(config.basemap.url, { attribution: config.basemap.attribution, maxZoom: config.basemap.maxZoom }).addTo(map);
}
addContext(map, config, { communes: false, streetsMinZoom: 14 }); // the communes are drawn below
const whoUrl = element.closest("section").querySelector(".commune-list a")?.getAttribute("href")?.split("?")[0];

fetch("/api/territory/communes/", { headers: { Accept: "application/geo+json" } })
  .then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  })
  .then((collection) => {
    const layer = L.geoJSON(collection, {
      style: (feature) => ({
        color: "#000091", weight: feature.properties.on_board ? 3 : 1.5,
        fillColor: feature.properties.on_board ? "#6a6af4" : "#cacafb", fillOpacity: 0.25,
      }),
      onEachFeature: (feature, featureLayer) => {
        featureLayer.bindTooltip(textElement(feature.properties.name), { className: "commune-label", sticky: true });
        featureLayer.on("click", () => { if (whoUrl) window.location.href = `${whoUrl}?commune=${feature.properties.insee}`; });
      },
    }).addTo(map);
    map.invalidateSize();
    map.fitBounds(layer.getBounds(), { padding: [12, 12] });
    element.dataset.loaded = String(collection.features.length);
  })
  .catch((error) => {
    element.dataset.error = String(error);
  });
