// The admin's map widget (django-leaflet): our own context layers under the geometry being
// edited, so that an area can be drawn against communes and streets with no basemap.
import { addContext } from "./own-data.js";

window.addEventListener("map:init", (event) => addContext(event.detail.map));
