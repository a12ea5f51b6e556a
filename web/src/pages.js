// Small behaviours of server-rendered pages: "Copier" buttons (data-copy="<element id>")
// put a field's text on the clipboard and say so to screen readers.
import { t } from "./i18n.js";

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById("copy-status");
    if (!field) return;
    try {
      await navigator.clipboard.writeText(field.value ?? field.textContent);
      if (status) status.textContent = t("js.copied");
    } catch {
      // No clipboard permission (or an old browser): select the text for Ctrl+C.
      field.focus();
      field.select?.();
      if (status) status.textContent = t("js.copy_select");
    }
  });
}
