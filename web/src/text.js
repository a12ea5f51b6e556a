// Plain-text helpers shared by the pages' scripts (no DOM).

/** `text` on one line, cut to `max` characters with an ellipsis. */
export function shorten(text, max) {
  const flat = (text || "").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
