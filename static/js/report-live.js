// Live tracking page: asks every few seconds whether the report changed (a conditional GET
// answered 304 when not) and swaps in the new status, photos and timeline without reloading;
// screen readers hear the new status. Without JavaScript the page is simply current at load.
import { gettext } from "./i18n.js";

const live = document.getElementById("live");
const announce = document.getElementById("live-announce");
if (live) {
  let version = live.dataset.version;
  const seconds = Math.max(1, Number(live.dataset.seconds || 15));
  const check = async () => {
    if (document.hidden) return;
    const response = await fetch(live.dataset.url, { headers: { "If-None-Match": version }, cache: "no-cache" });
    if (response.status !== 200) return;
    version = response.headers.get("ETag") || version;
    const fragment = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of fragment.querySelectorAll("[data-part]")) {
      const target = document.querySelector(`[data-part-target="${part.dataset.part}"]`);
      if (target) target.replaceChildren(...part.childNodes);
    }
    live.dataset.version = version;
    const status = document.getElementById("status-label");
    if (announce && status) announce.textContent = gettext("Signalement mis à jour : %(status)s", { status: status.textContent });
    live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
  };
  setInterval(() => { check().catch(() => {}); }, seconds * 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) check().catch(() => {}); });
}
