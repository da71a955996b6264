// Our own vector data under every map, so it stays readable with no basemap or no network:
// the streets layer when it exists (the demo's is synthetic), drawn thin and not interactive.
export function addStreets(map, url, { minZoom = 13 } = {}) {
  const layer = L.geoJSON(null, { style: { color: "#6a6a6a", weight: 2, opacity: 0.9 }, interactive: false });
  if (!url) return layer;
  fetch(url, { headers: { Accept: "application/geo+json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((collection) => {
      if (collection) layer.addData(collection);
    })
    .catch(() => {});
  const toggle = () => {
    if (map.getZoom() >= minZoom) layer.addTo(map);
    else layer.remove();
  };
  map.on("zoomend", toggle);
  toggle();
  return layer;
}
