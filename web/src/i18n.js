// The browser's share of the message catalogue (js.* and error.* keys, embedded by
// base.html as JSON). French first; the server picked the locale.
import { readJSON } from "./dom.js";

const strings = readJSON("i18n-strings") || {};
export const locale = document.documentElement.lang || "fr";
const plurals = new Intl.PluralRules(locale);

/** The text of `key` with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

/** `base.one` or `base.other` by the locale's plural rule (French: 0 and 1 are singular). */
export function tn(base, n, values = {}) {
  const form = plurals.select(n) === "one" ? "one" : "other";
  return t(`${base}.${form}`, { n, ...values });
}

/** "3 messages non lus, dont 1 mention" */
export function unreadSentence(unread, mentions) {
  let text = tn("js.unread", unread);
  if (mentions) text += t("js.unread.joiner") + tn("js.mentions", mentions);
  return text;
}
