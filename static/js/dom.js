// Leaflet puts a string tooltip or popup into the page as HTML: a text that comes from data (an
// equipment's number, a layer's or a commune's name, a translated label) goes in as a text node.
export function textElement(text) {
  const span = document.createElement("span");
  span.textContent = String(text);
  return span;
}
