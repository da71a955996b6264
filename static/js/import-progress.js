// Follows a layer import without reloading; the page works without it (an "Actualiser" link).
const box = document.getElementById("import-status");
const done = (status) => status === "succeeded" || status === "failed";
async function poll() {
  if (!box || done(box.dataset.status)) return;
  try {
    const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" } });
    const data = await response.json();
    document.getElementById("status-label").textContent = data.status_label;
    const p = data.progress || {};
    if (p.total) {
      document.getElementById("status-progress").textContent = `– ${p.stage} : ${p.done} / ${p.total}`;
      document.getElementById("status-bar").value = Math.round((100 * p.done) / p.total);
    }
    box.dataset.status = data.status;
    if (done(data.status)) { window.location.reload(); return; }
  } catch (error) {
    box.dataset.error = String(error);
  }
  setTimeout(poll, 1500);
}
setTimeout(poll, 1000);
