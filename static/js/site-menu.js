// The header menu on a phone (DSFR's pattern): a "Menu" button folds the links and the language
// choice under it, with aria-expanded telling its state. Wider screens, and browsers without
// scripts, show the menu as it is (it wraps).
const button = document.querySelector(".menu-button");
const menu = button && document.getElementById(button.getAttribute("aria-controls"));
const narrow = window.matchMedia("(max-width: 40rem)");

function expanded() {
  return button.getAttribute("aria-expanded") === "true";
}

function apply() {
  button.hidden = !narrow.matches;
  menu.hidden = narrow.matches && !expanded();
}

function toggle(open) {
  button.setAttribute("aria-expanded", String(open));
  apply();
}

if (button && menu) {
  button.addEventListener("click", () => toggle(!expanded()));
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && narrow.matches && expanded()) {
      toggle(false);
      button.focus();
    }
  });
  narrow.addEventListener("change", apply);
  apply();
}
