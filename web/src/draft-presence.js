// "Dans le brouillon": who has the draft open, from the Yjs awareness states. One line
// per member (the same person in two tabs counts once); arrivals and departures are
// announced politely once the first list is drawn.
import { byId, h } from "./dom.js";
import { t } from "./i18n.js";
import { colorClass } from "./draft-colors.js";

export class Presence {
  constructor({ awareness, me, colors, announce }) {
    this.awareness = awareness;
    this.colors = colors;
    this.me = me;
    this.announce = announce;
    this.list = byId("draft-presence-list");
    this.title = byId("draft-presence-title");
    this.key = "";
    this.people = new Map(); // key -> name
    this.drawn = false;
    const details = byId("draft-presence");
    if (details && window.matchMedia("(max-width: 48rem)").matches) details.open = false;
    awareness.on("change", () => this.render());
  }

  /** Everyone present, me first, then by name. */
  collect() {
    const people = new Map();
    for (const [clientId, state] of this.awareness.getStates()) {
      const user = state?.user;
      if (!user || !user.name) continue;
      const key = user.id != null ? `u${user.id}` : `c${clientId}`;
      if (!people.has(key)) {
        people.set(key, { ...user, key, color: this.colors.of(user, clientId), me: user.id === this.me.id });
      }
    }
    return [...people.values()].sort((a, b) => {
      if (a.me !== b.me) return a.me ? -1 : 1;
      return a.name.localeCompare(b.name, document.documentElement.lang || "fr");
    });
  }

  render() {
    const people = this.collect();
    const key = people.map((p) => `${p.key}:${p.name}:${p.color}`).join("|");
    if (key === this.key) return;
    this.key = key;
    this.list.replaceChildren(
      ...people.map((person) =>
        h(
          "li",
          {},
          h("span", { class: `presence-swatch ${colorClass(person.color)}`, "aria-hidden": "true" }),
          h("span", { class: "presence-name", text: person.name }),
          person.me ? h("span", { class: "presence-you", text: ` ${t("js.draft.presence.you")}` }) : null,
        ),
      ),
    );
    this.title.textContent = t("js.draft.presence.title", { n: people.length });
    const now = new Map(people.map((p) => [p.key, p.name]));
    if (this.drawn) {
      for (const [k, name] of now) {
        if (!this.people.has(k)) this.announce(t("js.draft.presence.joined", { name }));
      }
      for (const [k, name] of this.people) {
        if (!now.has(k)) this.announce(t("js.draft.presence.left", { name }));
      }
    }
    this.people = now;
    this.drawn = true;
  }
}
