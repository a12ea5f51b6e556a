// The CodeMirror 6 editor bound to the shared Y.Text (y-codemirror.next).
//
// Why a shadow root: CodeMirror injects its base styles through style-mod, which uses a
// constructable, adopted style sheet inside a shadow root but a <style> element in a
// plain document — and `style-src 'self'` blocks the latter. Mounted in a shadow root,
// every editor style (the base theme, ours below, the member colours) lives in adopted
// sheets, which the policy allows. The page's custom properties (--font, --focus…)
// still reach the editor through inheritance.
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, drawSelection, keymap, placeholder } from "@codemirror/view";
import { defaultKeymap } from "@codemirror/commands";
import { HighlightStyle, LanguageSupport, syntaxHighlighting } from "@codemirror/language";
// markdownLanguage rather than markdown(): the latter pulls in the HTML, CSS and
// JavaScript grammars (160 kB) for embedded HTML, which drafts do not need.
import { markdownKeymap, markdownLanguage } from "@codemirror/lang-markdown";
import { tags } from "@lezer/highlight";
import { yCollab, ySyncAnnotation, yUndoManagerKeymap } from "y-codemirror.next";
import { adoptColors } from "./draft-colors.js";
import { remoteCursors } from "./draft-cursors.js";

const encoder = new TextEncoder();

const highlight = HighlightStyle.define([
  { tag: tags.heading1, fontSize: "1.375em", fontWeight: "700" },
  { tag: tags.heading2, fontSize: "1.2em", fontWeight: "700" },
  { tag: [tags.heading3, tags.heading4, tags.heading5, tags.heading6], fontWeight: "700" },
  { tag: tags.strong, fontWeight: "700" },
  { tag: tags.emphasis, fontStyle: "italic" },
  { tag: tags.strikethrough, textDecoration: "line-through" },
  { tag: [tags.link, tags.url], color: "var(--blue)", textDecoration: "underline" },
  { tag: tags.monospace, fontFamily: "var(--mono)", fontSize: "0.9375em" },
  { tag: tags.quote, color: "var(--muted)", fontStyle: "italic" },
  { tag: [tags.processingInstruction, tags.meta, tags.contentSeparator], color: "var(--soft)" },
]);

const theme = EditorView.theme({
  "&": {
    height: "100%",
    color: "var(--text)",
    backgroundColor: "var(--bg)",
    border: "1px solid var(--control)",
    borderRadius: "var(--radius)",
  },
  "&.cm-focused": { outline: "2px solid var(--focus)", outlineOffset: "2px" },
  "&.draft-cm-readonly": { backgroundColor: "var(--bg-alt)" },
  ".cm-scroller": {
    fontFamily: "var(--font)",
    fontSize: "1rem",
    lineHeight: "1.6",
    overflow: "auto",
    overscrollBehavior: "contain",
  },
  ".cm-content": { padding: "1rem 0.75rem 2rem", caretColor: "var(--text)" },
  ".cm-content:focus-visible": { outline: "none" },
  ".cm-line": { padding: "0 0.25rem" },
  ".cm-placeholder": { color: "var(--control)", fontStyle: "italic" },
  "&.cm-focused .cm-cursor": { borderLeftColor: "var(--text)", borderLeftWidth: "2px" },
  ".cm-selectionBackground": { backgroundColor: "#d9d9f5 !important" },
  "&.cm-focused .cm-selectionBackground": { backgroundColor: "#c5c5f2 !important" },
  ".cm-remote-selection, .cm-remote-line": { backgroundColor: "var(--member-color-light)" },
  ".cm-remote-caret": {
    position: "relative",
    borderLeft: "2px solid var(--member-color)",
    marginLeft: "-1px",
    marginRight: "-1px",
  },
  // The name flag shows when the caret moves, then fades so as not to hide the line
  // above; "Dans le brouillon" keeps the names, in the same colours.
  ".cm-remote-flag": {
    animation: "draft-flag-fade 0.4s ease-in 3s forwards",
    position: "absolute",
    bottom: "100%",
    left: "-2px",
    padding: "0 0.25rem",
    borderRadius: "0.125rem 0.125rem 0.125rem 0",
    backgroundColor: "var(--member-color)",
    color: "var(--member-ink)",
    fontFamily: "var(--font)",
    fontSize: "0.75rem",
    fontStyle: "normal",
    fontWeight: "600",
    lineHeight: "1.25",
    whiteSpace: "nowrap",
    pointerEvents: "none",
    userSelect: "none",
    zIndex: "5",
  },
  ".cm-remote-caret:hover .cm-remote-flag": { animation: "none", opacity: "1" },
  "@keyframes draft-flag-fade": { from: { opacity: "1" }, to: { opacity: "0" } },
  "@media (prefers-reduced-motion: reduce)": {
    ".cm-remote-flag": { animationDuration: "0.01s" },
  },
});

/** The shadow root's own rules: the host fills its box; a hidden description. */
function hostSheet() {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(`
    :host { display: block; }
    .draft-cm-mount { height: 100%; }
    .draft-cm-hint { position: absolute; width: 1px; height: 1px; overflow: hidden;
      clip: rect(0 0 0 0); white-space: nowrap; margin: -1px; }
  `);
  return sheet;
}

function utf8Length(text) {
  return encoder.encode(text).length;
}

/**
 * Mount the editor in `host` (its light-DOM content is replaced by a shadow root).
 * `editable` can change later with `setEditable` (the editor stays read-only until the
 * document has synced the first time). `extensions`: more CodeMirror extensions (the
 * commented passages, draft-comments.js).
 */
export function createEditor({
  host,
  ytext,
  awareness,
  colors,
  canWrite,
  label,
  hint,
  placeholderText,
  maxInsertBytes,
  onTooLong,
  extensions = [],
}) {
  const shadow = host.attachShadow({ mode: "open" });
  shadow.adoptedStyleSheets = [hostSheet()];
  adoptColors(shadow);
  const description = document.createElement("p");
  description.id = "draft-cm-hint";
  description.className = "draft-cm-hint";
  description.textContent = hint;
  const mount = document.createElement("div");
  mount.className = "draft-cm-mount";
  shadow.append(description, mount);

  const access = new Compartment();
  const accessFor = (editable) => [
    EditorView.editable.of(editable),
    EditorState.readOnly.of(!editable),
    EditorView.editorAttributes.of({ class: editable ? "draft-cm-editable" : "draft-cm-readonly" }),
    // The text is reachable with the keyboard, to read and scroll it, whether it can be
    // written or not. An editable one is focusable anyway; its explicit tabindex tells
    // checkers (axe's scrollable-region-focusable) what browsers already do.
    EditorView.contentAttributes.of({ "aria-readonly": String(!editable), tabindex: "0" }),
  ];

  // A single change is one Yjs update on the wire: keep it under the server's limit.
  const sizeGuard = EditorState.transactionFilter.of((tr) => {
    if (!tr.docChanged || tr.annotation(ySyncAnnotation) || !maxInsertBytes) return tr;
    let bytes = 0;
    tr.changes.iterChanges((fromA, toA, fromB, toB, inserted) => {
      bytes += utf8Length(inserted.sliceString(0));
    });
    if (bytes <= maxInsertBytes) return tr;
    onTooLong?.();
    return [];
  });

  const view = new EditorView({
    root: shadow,
    parent: mount,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        access.of(accessFor(false)),
        sizeGuard,
        EditorView.lineWrapping,
        drawSelection(),
        new LanguageSupport(markdownLanguage),
        Prec.high(keymap.of(markdownKeymap)),
        syntaxHighlighting(highlight),
        placeholder(placeholderText),
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
        yCollab(ytext, null),
        remoteCursors(awareness, ytext, { share: canWrite, colors }),
        EditorView.contentAttributes.of({
          "aria-label": label,
          "aria-describedby": description.id,
          spellcheck: "true",
          autocorrect: "on",
          autocapitalize: "sentences",
        }),
        theme,
        extensions,
      ],
    }),
  });

  return {
    view,
    setEditable(editable) {
      view.dispatch({ effects: access.reconfigure(accessFor(editable)) });
    },
    focus() {
      view.focus();
    },
  };
}
