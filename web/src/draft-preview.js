// The rendered preview beside the editor: GET /api/drafts/N/preview answers
// {"html": …}, rendered and sanitised by the server from its current state of the draft.
// Refreshed 600 ms after the last change (local or remote), and at least every 2 s
// while the text keeps changing; answers that arrive out of order are dropped.
import { t } from "./i18n.js";

const QUIET_MS = 600;
const MAX_WAIT_MS = 2000;

export class Preview {
  constructor({ url, el, note }) {
    this.url = url;
    this.el = el;
    this.note = note;
    this.timer = null;
    this.firstPending = 0;
    this.asked = 0;
    this.shown = 0;
    this.html = null;
    this.online = false;
  }

  /** A change happened: refresh once things calm down. */
  schedule() {
    if (!this.online) return;
    const now = Date.now();
    if (!this.firstPending) this.firstPending = now;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(QUIET_MS, this.firstPending + MAX_WAIT_MS - now));
    this.timer = setTimeout(() => this.refresh(), wait);
  }

  setOnline(online) {
    this.online = online;
    if (online) {
      this.setNote("");
      this.schedule();
    } else {
      clearTimeout(this.timer);
      this.firstPending = 0;
      this.setNote(t("js.draft.preview.offline"));
    }
  }

  async refresh() {
    clearTimeout(this.timer);
    this.firstPending = 0;
    const ticket = ++this.asked;
    this.el.setAttribute("aria-busy", "true");
    let data;
    try {
      const response = await fetch(this.url, {
        headers: { accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch {
      if (ticket === this.asked) {
        this.el.setAttribute("aria-busy", "false");
        if (this.online) this.setNote(t("js.draft.preview.failed"));
      }
      return;
    }
    if (ticket < this.shown) return;
    this.shown = ticket;
    if (ticket === this.asked) this.el.setAttribute("aria-busy", "false");
    const html = typeof data.html === "string" ? data.html : "";
    if (html !== this.html) {
      this.html = html;
      // The only HTML inserted as such: the server's sanitised rendering.
      this.el.innerHTML = html;
    }
    this.setNote(html.trim() ? "" : t("js.draft.preview.empty"));
  }

  setNote(text) {
    if (this.note.textContent !== text) this.note.textContent = text;
  }
}
