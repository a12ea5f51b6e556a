// Member colours (from the server, "#RRGGBB") as CSS classes, without inline styles:
// the rules live in one constructable style sheet adopted by the document and by the
// editor's shadow root. `style-src 'self'` forbids <style> elements and style attributes
// written as text, but not adopted sheets.

const sheet = typeof CSSStyleSheet === "function" ? new CSSStyleSheet() : null;
const known = new Map(); // "#rrggbb" -> class name
const FALLBACK = "#3a3a3a";

/** Adopt the colour sheet in `root` (the document or a shadow root). */
export function adoptColors(root) {
  if (!sheet || !root.adoptedStyleSheets || root.adoptedStyleSheets.includes(sheet)) return;
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
}

export function normalColor(color) {
  return /^#[0-9a-f]{6}$/i.test(color || "") ? color.toLowerCase() : FALLBACK;
}

/** The colour made pale (for selections): the same hue at 20 % opacity. */
export function lightColor(color) {
  return `${normalColor(color)}33`;
}

function luminance(hex) {
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Black or white, whichever reads better on `color` (for the name flag on a caret). */
export function inkOn(color) {
  const l = luminance(normalColor(color));
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#161616" : "#ffffff";
}

/**
 * The class carrying `--member-color`, `--member-color-light` and `--member-ink` for
 * `color`; the rule is added on first use.
 */
export function colorClass(color) {
  const hex = normalColor(color);
  let name = known.get(hex);
  if (name) return name;
  name = `member-color-${hex.slice(1)}`;
  known.set(hex, name);
  if (sheet) {
    sheet.insertRule(
      `.${name} { --member-color: ${hex}; --member-color-light: ${hex}33; --member-ink: ${inkOn(hex)}; }`,
      sheet.cssRules.length,
    );
  }
  return name;
}

/**
 * Colours as shown on this page. The server gives each member a colour from a small
 * palette, so two people present may share one; here the first (by member id) keeps
 * it and the others get the first free colour of the palette, so that every caret and
 * its line in "Dans le brouillon" can be told apart. Recomputed when someone arrives
 * or leaves; the same for the carets and the list.
 */
const PALETTE = ["#000091", "#8a3b12", "#18753c", "#6a2e8c", "#b34000", "#00666b", "#a60e60"];

export class MemberColors {
  constructor() {
    this.shown = new Map(); // member key -> colour
  }

  static keyOf(user, clientId) {
    return user?.id != null ? `u${user.id}` : `c${clientId}`;
  }

  /** @param {Map<number, any>} states the awareness states */
  update(states) {
    const members = new Map();
    for (const [clientId, state] of states) {
      const user = state?.user;
      if (!user) continue;
      const key = MemberColors.keyOf(user, clientId);
      if (!members.has(key)) members.set(key, { id: user.id ?? Infinity, clientId, color: normalColor(user.color) });
    }
    const order = [...members.entries()].sort(
      ([, a], [, b]) => (a.id === b.id ? a.clientId - b.clientId : a.id - b.id),
    );
    const taken = new Set();
    this.shown = new Map();
    for (const [key, member] of order) {
      let color = member.color;
      if (taken.has(color)) color = PALETTE.find((c) => !taken.has(c)) || color;
      taken.add(color);
      this.shown.set(key, color);
    }
  }

  of(user, clientId) {
    return this.shown.get(MemberColors.keyOf(user, clientId)) || normalColor(user?.color);
  }
}
