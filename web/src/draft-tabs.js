// On a phone the editor and the preview are two tabs ("Rédiger", "Aperçu") following
// the WAI-ARIA tabs pattern (arrow keys, Home, End; automatic activation). On wider
// screens the panels sit side by side and the tab roles are removed.
import { byId } from "./dom.js";

const PHONE = "(max-width: 48rem)";

export class Tabs {
  constructor({ onShow }) {
    this.onShow = onShow;
    this.list = byId("draft-tabs");
    this.tabs = [...this.list.querySelectorAll(".draft-tab")];
    this.panels = this.tabs.map((tab) => byId(tab.dataset.panel));
    this.current = 0;
    this.active = false;
    this.list.addEventListener("click", (event) => {
      const tab = event.target.closest(".draft-tab");
      if (tab) this.select(this.tabs.indexOf(tab), false);
    });
    this.list.addEventListener("keydown", (event) => this.onKeydown(event));
    const query = window.matchMedia(PHONE);
    query.addEventListener("change", () => this.apply(query.matches));
    this.apply(query.matches);
  }

  apply(phone) {
    if (phone === this.active) return;
    this.active = phone;
    this.list.hidden = !phone;
    if (phone) {
      this.list.setAttribute("role", "tablist");
      this.tabs.forEach((tab, i) => {
        tab.setAttribute("role", "tab");
        tab.setAttribute("aria-controls", this.panels[i].id);
        this.panels[i].setAttribute("role", "tabpanel");
        this.panels[i].setAttribute("aria-labelledby", tab.id);
      });
      this.select(this.current, false);
    } else {
      this.list.removeAttribute("role");
      this.tabs.forEach((tab, i) => {
        for (const name of ["role", "aria-controls", "aria-selected", "tabindex"]) tab.removeAttribute(name);
        const panel = this.panels[i];
        panel.removeAttribute("role");
        panel.removeAttribute("aria-labelledby");
        panel.hidden = false;
        this.onShow(panel.id);
      });
    }
  }

  /** Show the panel `panelId` (on a phone; elsewhere both are always shown). */
  show(panelId) {
    const index = this.panels.findIndex((panel) => panel.id === panelId);
    if (this.active && index >= 0 && index !== this.current) this.select(index, false);
  }

  select(index, focus) {
    this.current = index;
    this.tabs.forEach((tab, i) => {
      const selected = i === index;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.setAttribute("tabindex", selected ? "0" : "-1");
      this.panels[i].hidden = !selected;
    });
    if (focus) this.tabs[index].focus();
    this.onShow(this.panels[index].id);
  }

  onKeydown(event) {
    const last = this.tabs.length - 1;
    const moves = {
      ArrowRight: this.current === last ? 0 : this.current + 1,
      ArrowLeft: this.current === 0 ? last : this.current - 1,
      Home: 0,
      End: last,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    this.select(moves[event.key], true);
  }
}
