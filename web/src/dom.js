// Tiny DOM helpers. Text always goes through text nodes (never innerHTML): the only
// HTML Atelier inserts is a message's server-sanitised `html` field (see messages.js).

/**
 * Create an element. `attrs`: `class`, `text`, `dataset`, `on<event>` handlers, other
 * attributes (false/null/undefined are skipped, true sets an empty attribute).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function byId(id) {
  return document.getElementById(id);
}

/** JSON from a non-executed `<script type="application/json">` (CSP-friendly). */
export function readJSON(id) {
  const el = byId(id);
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch {
    return null;
  }
}

/** A random UUID, also outside secure contexts (plain http on a local network). */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch {
      // Not a secure context: fall through.
    }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Re-render `oldEl` as `newEl` without losing keyboard focus: the focused descendant is
 * found again in the new element by its `data-focus-key`.
 */
export function replacePreservingFocus(oldEl, newEl) {
  const active = document.activeElement;
  let key = null;
  if (active && oldEl.contains(active)) {
    key = active === oldEl ? "__self__" : active.dataset?.focusKey || null;
  }
  oldEl.replaceWith(newEl);
  if (key === "__self__") newEl.focus({ preventScroll: true });
  else if (key) {
    const again = [...newEl.querySelectorAll("[data-focus-key]")].find(
      (el) => el.dataset.focusKey === key,
    );
    // The control is gone (a deleted message has no buttons): keep focus nearby.
    (again || newEl).focus({ preventScroll: true });
  }
}
