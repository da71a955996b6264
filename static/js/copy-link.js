// "Copier le lien" beside the tracking link of a report sent without an email address: the
// link is the citizen's only way back to the report. Without the clipboard API the field's
// text is selected, ready to copy by hand.
const input = document.getElementById("keep-link-url");
const button = document.getElementById("keep-link-copy");
if (input && button) {
  button.hidden = false; // without this script, the field alone: its text selects to copy
  button.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = button.dataset.copied;
    } catch {
      input.focus();
      input.select();
    }
  });
}
