// Structural checks a screen-reader user depends on (RGAA 8.3, 8.5, 9.1, 11.1, 11.9,
// 12.7): page language and title, landmarks, one h1, labels, accessible names, unique
// ids, no inline styles. Evaluated in the page by helpers.a11y_problems(); returns the
// problems found as sentences.
() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const text = (el) => (el.textContent || "").replace(/\s+/g, " ").trim();
  const labelled = (el) => {
    if (el.getAttribute("aria-label")?.trim()) return true;
    const by = el.getAttribute("aria-labelledby");
    if (by && by.split(/\s+/).some((id) => document.getElementById(id) && text(document.getElementById(id)))) return true;
    return false;
  };
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.title.trim()) problems.push("page has no title");
  if (document.querySelectorAll("main").length !== 1) problems.push("not exactly one <main>");
  if (!document.querySelector("header.site-header")) problems.push("no banner header");
  if (!document.querySelector("footer.site-footer")) problems.push("no contentinfo footer");
  if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one <h1>");
  const skip = document.querySelector(".skip-link");
  if (!skip || !document.querySelector(skip.getAttribute("href"))) problems.push("skip link broken");
  for (const el of document.querySelectorAll("input:not([type=hidden]), textarea, select")) {
    if (!(el.labels && el.labels.length && text(el.labels[0])) && !labelled(el)) {
      problems.push(`field without label: ${el.outerHTML.slice(0, 80)}`);
    }
  }
  for (const el of document.querySelectorAll("button, a[href], summary")) {
    if (!visible(el) && !el.classList.contains("skip-link")) continue;
    if (!text(el) && !labelled(el)) problems.push(`no accessible name: ${el.outerHTML.slice(0, 80)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`img without alt: ${img.outerHTML.slice(0, 80)}`);
  }
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dupes.length) problems.push(`duplicate ids: ${dupes.join(", ")}`);
  // An empty style attribute styles nothing (Playwright's screenshots leave one behind).
  for (const el of document.querySelectorAll("[style]")) {
    if (el.getAttribute("style").trim()) problems.push(`inline style: ${el.tagName}`);
  }
  return problems;
}
