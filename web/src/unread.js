// The unread badge, the same markup as the `unread_badge` macro of web/templates/_macros.html:
// digits for the eye, one sentence for screen readers.
import { h } from "./dom.js";
import { unreadSentence } from "./i18n.js";

/** The children of a badge (empty when nothing is unread). */
export function badgeNodes(unread, mentions, prefix = "") {
  if (!unread) return [];
  return [
    h("span", { class: "badge", "aria-hidden": "true", text: String(unread) }),
    mentions ? h("span", { class: "badge badge-mention", "aria-hidden": "true", text: `@${mentions}` }) : null,
    h("span", { class: "visually-hidden", text: prefix + unreadSentence(unread, mentions) }),
  ].filter(Boolean);
}
