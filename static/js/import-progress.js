// Follows a layer import without reloading; the page works without it (an "Actualiser" link).
import { gettext } from "./i18n.js";

const box = document.getElementById("import-status");
const done = (status) => status === "succeeded" || status === "failed";
async function poll() {
  if (!box || done(box.dataset.status)) return;
  try {
    const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" } });
    const data = await response.json();
    document.getElementById("status-label").textContent = data.status_label;
    const p = data.progress || {};
    const text = document.getElementById("status-progress");
    const bar = document.getElementById("status-bar");
    if (p.total) {
      text.textContent = `– ${p.stage} : ${p.done} / ${p.total}`;
      bar.value = Math.round((100 * p.done) / p.total);
    } else if (p.done) {
      // the file does not tell its total (GeoJSON, CSV): what was read, an indeterminate bar
      text.textContent = `– ${p.stage} : ${gettext("%(n)s objets lus", { n: p.done })}`;
      bar.removeAttribute("value");
    }
    box.dataset.status = data.status;
    if (done(data.status)) { window.location.reload(); return; }
  } catch (error) {
    box.dataset.error = String(error);
  }
  setTimeout(poll, 1500);
}
setTimeout(poll, 1000);
