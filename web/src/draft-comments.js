// The "Commentaires" panel of the draft page: threads anchored to passages of the text,
// replies, resolution, and suggestions (a proposed replacement that an editor accepts or
// refuses). JSON API: GET/POST /api/drafts/<id>/comments, …/<cid>/resolve,
// …/<cid>/decision (docs/protocol.md).
//
// Anchors are Yjs relative positions made here from the editor's selection (CodeMirror
// and Y.Text both count UTF-16 units, so a selection offset is a Y.Text index), so a
// comment follows its passage through everyone's edits. The server answers each
// comment's `range` in its current text, in Unicode characters (Python's str indices):
// they are turned into UTF-16 offsets of the text as it was when the list was asked
// for, then mapped through the changes made since. In the editor the passages are
// CodeMirror mark decorations (classes only: the look lives in the editor's theme).
//
// There is no push channel for comments on this page: the list is fetched again after
// each action, a second after remote edits, when another member of the draft says (in
// the Yjs awareness state, field `comments`) that they changed something, and once a
// minute as a fallback.
//
// Only a comment's `html` (rendered and sanitised by the server) goes in as HTML;
// everything else is text.
import * as Y from "yjs";
import { ChangeSet, StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView } from "@codemirror/view";
import { byId, h } from "./dom.js";
import { formatFull, formatWhen } from "./dates.js";
import { locale, t, tn } from "./i18n.js";
import { shorten } from "./text.js";

const REMOTE_QUIET_MS = 1000;
const PEER_SIGNAL_MS = 250;
const POLL_MS = 60_000;
const ANNOUNCE_QUOTE_CHARS = 60;
const numbers = new Intl.NumberFormat(locale);

// -- the passages in the editor ------------------------------------------------------

/** `{marks: [{id, from, to, kind}], active, pending: {from, to} | null}` */
const setMarks = StateEffect.define();
const setActive = StateEffect.define();

function markFor(kind, active) {
  const classes = ["cm-comment"];
  if (kind === "suggestion") classes.push("cm-comment-suggestion");
  if (kind === "pending") classes.push("cm-comment-pending");
  if (active) classes.push("cm-comment-active");
  return classes.join(" ");
}

function buildMarks(marks, active) {
  const ranges = [];
  for (const mark of marks) {
    if (!(mark.to > mark.from)) continue;
    ranges.push(
      Decoration.mark({
        class: markFor(mark.kind, mark.id === active),
        commentId: mark.id,
        kind: mark.kind,
      }).range(mark.from, mark.to),
    );
  }
  return Decoration.set(ranges, true);
}

/** The marks as they stand now (mapped through every change since they were set). */
function currentMarks(set) {
  const marks = [];
  const cursor = set.iter();
  for (; cursor.value; cursor.next()) {
    marks.push({ id: cursor.value.spec.commentId, kind: cursor.value.spec.kind, from: cursor.from, to: cursor.to });
  }
  return marks;
}

const passages = StateField.define({
  create: () => ({ set: Decoration.none, active: null }),
  update(value, tr) {
    let { set, active } = value;
    if (tr.docChanged) set = set.map(tr.changes);
    let chosen = false;
    for (const effect of tr.effects) {
      if (effect.is(setMarks)) {
        set = buildMarks(effect.value, active);
      } else if (effect.is(setActive)) {
        active = effect.value;
        chosen = true;
        set = buildMarks(currentMarks(set), active);
      }
    }
    // The passage gone to stays marked until the caret leaves it.
    if (active != null && !chosen && tr.selection) {
      const head = tr.selection.main.head;
      const mark = currentMarks(set).find((m) => m.id === active);
      if (!mark || head < mark.from || head > mark.to) {
        active = null;
        set = buildMarks(currentMarks(set), null);
      }
    }
    return set === value.set && active === value.active ? value : { set, active };
  },
  provide: (field) => EditorView.decorations.from(field, (value) => value.set),
});

const passageTheme = EditorView.theme({
  ".cm-comment": {
    backgroundColor: "var(--mention)",
    borderBottom: "2px solid var(--mention-edge)",
    paddingBottom: "1px",
  },
  ".cm-comment-suggestion": {
    backgroundColor: "#e3f4e8",
    borderBottom: "2px dashed var(--success)",
  },
  ".cm-comment-pending": {
    backgroundColor: "var(--blue-tint)",
    borderBottom: "2px solid var(--blue)",
  },
  ".cm-comment-active, .cm-comment-active .cm-comment": {
    backgroundColor: "var(--mention-me)",
    borderBottomColor: "var(--text)",
  },
});

// -- small helpers ---------------------------------------------------------------------

function toBase64(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * UTF-16 offsets in `text` of the character (code point) offsets `wanted`: the server
 * counts characters, the browser UTF-16 units; they differ after an astral character
 * (an emoji, say).
 */
function unitOffsets(text, wanted) {
  const result = new Map();
  if (!/[\uD800-\uDBFF]/.test(text)) {
    for (const n of wanted) result.set(n, Math.min(n, text.length));
    return result;
  }
  const sorted = [...new Set(wanted)].sort((a, b) => a - b);
  let k = 0;
  let chars = 0;
  let i = 0;
  while (k < sorted.length) {
    while (k < sorted.length && sorted[k] <= chars) result.set(sorted[k++], i);
    if (i >= text.length) break;
    const code = text.charCodeAt(i);
    i += code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? 2 : 1;
    chars += 1;
  }
  for (; k < sorted.length; k++) result.set(sorted[k], text.length);
  return result;
}


class ApiError extends Error {
  constructor(message, code = "", data = null) {
    super(message);
    this.code = code;
    this.data = data;
  }

  /** The server does not know the passage (yet): text typed a moment ago may still be on
   * its way over the socket while the comment went by HTTP. */
  get unknownAnchor() {
    return this.code === "invalid_draft_input" && this.data?.error?.field === "anchor";
  }
}

const ANCHOR_RETRY_MS = [600, 1500];
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A French sentence for an API error body (`{"error": {"code", "message", …}}`). */
function errorText(data) {
  const error = data?.error;
  if (!error || typeof error !== "object") return t("js.draft.comments.error.generic");
  if (error.code === "invalid_draft_input" || error.code === "bad_request") {
    const key = `js.draft.comments.error.${error.field}.${error.reason || "invalid"}`;
    if (t(key) !== key) return t(key);
  }
  if (typeof error.message === "string" && error.message.trim()) return error.message;
  const key = `error.${error.code}`;
  if (error.code && t(key) !== key) return t(key, error);
  return t("js.draft.comments.error.generic");
}

function stateLabel(comment) {
  const suggestion = comment.replacement != null;
  if (!suggestion) return t(comment.state === "open" ? "js.draft.comments.state.open" : "js.draft.comments.state.resolved");
  return t(`js.draft.comments.state.suggestion_${comment.state}`);
}

// -- the panel ---------------------------------------------------------------------------

export class Comments {
  /**
   * @param {{boot: any, ytext: Y.Text, awareness: any, announce: (text: string) => void}} options
   */
  constructor({ boot, ytext, awareness, announce }) {
    this.boot = boot;
    this.ytext = ytext;
    this.ydoc = ytext.doc;
    this.awareness = awareness;
    this.announce = announce;
    this.draftId = boot.draft.id;
    this.me = boot.me;
    this.canComment = Boolean(boot.can_comment);
    this.canEdit = Boolean(boot.can_edit) && !boot.draft.locked;
    this.canSuggest = this.canComment && !boot.draft.locked;
    this.base = `/api/drafts/${encodeURIComponent(this.draftId)}/comments`;

    this.comments = [];
    this.loaded = false;
    this.asked = 0;
    this.shown = 0;
    this.inflight = new Map(); // ticket -> {text, changes}: the text when asked, and since
    this.elements = new Map(); // thread id -> <li>
    this.signatures = new Map(); // thread id -> what it was drawn from
    this.replies = new Map(); // thread id -> open reply <form>
    this.busy = new Set(); // keys of actions in flight
    this.form = null; // the new comment / suggestion form, when open
    this.signal = 0;
    this.peers = new Map(); // awareness client id -> last `comments` value seen
    this.seenIds = null;
    this.ready = false;
    this.synced = false;

    this.panel = byId("draft-panel-comments");
    this.alertEl = byId("draft-comments-alert");
    this.note = byId("draft-comments-note");
    this.formSlot = byId("draft-comments-form");
    this.openList = byId("draft-threads");
    this.closedBox = byId("draft-resolved");
    this.closedTitle = byId("draft-resolved-title");
    this.closedList = byId("draft-threads-resolved");
    this.count = byId("draft-comments-count");
    this.tabCount = byId("draft-tab-count");
    this.bar = byId("draft-select-bar");
  }

  /** The editor extensions: the highlighted passages, their look, selection tracking. */
  extensions() {
    return [
      passages,
      passageTheme,
      EditorView.updateListener.of((update) => {
        if (update.docChanged) {
          for (const asked of this.inflight.values()) asked.changes = asked.changes.compose(update.changes);
        }
        if (this.ready && (update.selectionSet || update.docChanged)) this.onSelection(update.state);
      }),
    ];
  }

  /** Called once the editor and the tabs exist. */
  attach({ view, tabs }) {
    this.view = view;
    this.tabs = tabs;
    this.buildBar();
    this.ready = true;
    // "Aller aux commentaires" (on a phone, their tab first).
    document.querySelector('.skip-link[href="#draft-panel-comments"]')?.addEventListener("click", (event) => {
      event.preventDefault();
      this.tabs?.show("draft-panel-comments");
      this.panel.focus();
    });
    this.onSelection(view.state);
    this.ytext.observe((event, transaction) => {
      if (!transaction.local) this.schedule(REMOTE_QUIET_MS);
    });
    for (const [id, state] of this.awareness.getStates()) this.peers.set(id, state?.comments ?? null);
    this.awareness.on("change", ({ added, updated, removed }) => this.onPeers(added, updated, removed));
    this.pollTimer = setInterval(() => {
      if (document.visibilityState === "visible") this.refresh();
    }, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.loaded) this.schedule(0);
    });
    // The list is asked for once the text is here (its passages are offsets in it);
    // without a connection, after a while anyway.
    this.firstTimer = setTimeout(() => {
      if (!this.loaded) this.refresh({ first: true });
    }, 4000);
  }

  /** The text is in sync with the server's (first connection, or back online). */
  onSynced() {
    this.synced = true;
    clearTimeout(this.firstTimer);
    if (this.view) this.refresh({ first: !this.loaded });
  }

  // -- fetching ------------------------------------------------------------------------
  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), ms);
  }

  /** Another member's page says its comments changed (a value it changes each time). */
  onPeers(added, updated, removed) {
    const states = this.awareness.getStates();
    const value = (id) => states.get(id)?.comments ?? null;
    for (const id of removed) this.peers.delete(id);
    // A page that arrives: what it says now is not news (this page fetched anyway).
    for (const id of added) this.peers.set(id, value(id));
    let news = false;
    for (const id of updated) {
      if (id === this.awareness.clientID) continue;
      if (this.peers.has(id) && this.peers.get(id) !== value(id)) news = true;
      this.peers.set(id, value(id));
    }
    if (news) this.schedule(PEER_SIGNAL_MS);
  }

  /** Tell the others' pages to fetch the list again. */
  tellPeers() {
    this.signal += 1;
    this.awareness.setLocalStateField("comments", `${Date.now().toString(36)}.${this.signal}`);
  }

  async request(path, body) {
    const init =
      body === undefined
        ? { headers: { accept: "application/json" }, cache: "no-store", credentials: "same-origin" }
        : {
            method: "POST",
            credentials: "same-origin",
            headers: {
              accept: "application/json",
              "content-type": "application/json",
              "X-CSRF-Token": this.boot.csrf || "",
            },
            body: JSON.stringify(body),
          };
    let response;
    try {
      response = await fetch(`${this.base}${path}`, init);
    } catch {
      throw new ApiError(t("js.draft.comments.error.network"), "network");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) throw new ApiError(errorText(data), data?.error?.code || String(response.status), data);
    return data;
  }

  async refresh({ first = false } = {}) {
    clearTimeout(this.timer);
    if (!this.view) return;
    const ticket = ++this.asked;
    const state = this.view.state;
    const base = { text: state.doc.toString(), changes: ChangeSet.empty(state.doc.length) };
    this.inflight.set(ticket, base);
    this.panel.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await this.request("");
    } catch (error) {
      if (ticket === this.asked) {
        this.panel.setAttribute("aria-busy", "false");
        if (first || !this.loaded) {
          this.note.textContent = t("js.draft.comments.load_failed");
          this.showAlert(error.message);
        }
      }
      return;
    } finally {
      this.inflight.delete(ticket);
    }
    if (ticket < this.shown) return; // a later answer is already shown
    this.shown = ticket;
    if (ticket === this.asked) this.panel.setAttribute("aria-busy", "false");
    this.comments = Array.isArray(data?.comments) ? data.comments : [];
    this.placeMarks(base);
    this.render();
    this.announceNews();
    if (!this.loaded) {
      this.loaded = true;
      this.fromHash();
    }
  }

  /** The passages' offsets in the editor, from the list just received. */
  placeMarks(base) {
    const roots = this.comments.filter((c) => c.parent_id == null);
    const marks = [];
    const fromServer = [];
    for (const comment of roots) {
      const kind = comment.replacement != null && comment.state === "open" ? "suggestion" : "comment";
      if (comment.state !== "open") continue;
      const local = this.resolveAnchor(comment.anchor);
      if (local) marks.push({ id: comment.id, kind, ...local });
      else if (Array.isArray(comment.range)) fromServer.push({ id: comment.id, kind, range: comment.range });
    }
    if (fromServer.length) {
      const offsets = unitOffsets(base.text, fromServer.flatMap((m) => m.range));
      const length = this.view.state.doc.length;
      for (const { id, kind, range } of fromServer) {
        const from = base.changes.mapPos(offsets.get(range[0]), 1);
        const to = base.changes.mapPos(offsets.get(range[1]), -1);
        if (to > from && to <= length) marks.push({ id, kind, from, to });
      }
    }
    if (this.form?.pending) marks.push(this.pendingMark());
    this.view.dispatch({ effects: setMarks.of(marks) });
  }

  /** A passage from the comment's own anchor, when the server sends it (exact here). */
  resolveAnchor(anchor) {
    if (!anchor?.start || !anchor?.end) return null;
    try {
      const start = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor.start)), this.ydoc);
      const end = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor.end)), this.ydoc);
      if (!start || !end || start.type !== this.ytext || end.type !== this.ytext) return null;
      return { from: start.index, to: Math.max(start.index, end.index) };
    } catch {
      return null;
    }
  }

  pendingMark() {
    const found = currentMarks(this.view.state.field(passages).set).find((m) => m.kind === "pending");
    const from = found ? found.from : this.form.from;
    const to = found ? found.to : this.form.to;
    return { id: "pending", kind: "pending", from, to };
  }

  /** Where a thread's passage is now (mapped through the edits since it was drawn). */
  passageOf(id) {
    return currentMarks(this.view.state.field(passages).set).find((m) => m.id === id) || null;
  }

  // -- the list ------------------------------------------------------------------------
  threads() {
    const byId = new Map();
    const roots = [];
    for (const comment of this.comments) {
      if (comment.parent_id == null) {
        const thread = { root: comment, replies: [] };
        byId.set(comment.id, thread);
        roots.push(thread);
      }
    }
    for (const comment of this.comments) {
      if (comment.parent_id != null) byId.get(comment.parent_id)?.replies.push(comment);
    }
    return roots;
  }

  render() {
    const threads = this.threads();
    const open = threads.filter((th) => th.root.state === "open");
    const closed = threads.filter((th) => th.root.state !== "open");
    const position = (th) => {
      const at = this.passageOf(th.root.id);
      return at ? at.from : Number.MAX_SAFE_INTEGER;
    };
    open.sort((a, b) => position(a) - position(b) || a.root.id - b.root.id);
    closed.sort((a, b) => b.root.id - a.root.id);

    const active = document.activeElement;
    const focusKey = active && this.panel.contains(active) ? active.dataset?.focusKey : null;
    const alive = new Set(threads.map((th) => th.root.id));
    for (const [id, el] of this.elements) {
      if (!alive.has(id)) {
        el.remove();
        this.elements.delete(id);
        this.signatures.delete(id);
      }
    }
    const elements = (list) => list.map((th) => this.threadElement(th));
    this.place(this.openList, elements(open));
    this.place(this.closedList, elements(closed));
    if (focusKey && !this.panel.contains(document.activeElement)) {
      const again = this.panel.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      again?.focus({ preventScroll: true });
    }

    this.closedBox.hidden = closed.length === 0;
    this.closedTitle.textContent = t("js.draft.comments.resolved_title", { n: numbers.format(closed.length) });
    const countText = open.length ? ` (${numbers.format(open.length)})` : "";
    this.count.textContent = countText;
    if (this.tabCount) this.tabCount.textContent = countText;
    this.openList.hidden = open.length === 0;
    let note = "";
    if (!threads.length) {
      note = this.canComment ? t("js.draft.comments.none_how") : t("js.draft.comments.none");
    } else if (!open.length) {
      note = t("js.draft.comments.none_open");
    }
    this.note.textContent = note;
    this.note.hidden = !note;
    this.markCurrent(this.view.state);
  }

  /** Put `wanted` in `list` in that order, moving only what must move. */
  place(list, wanted) {
    wanted.forEach((el, i) => {
      if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
    });
    while (list.children.length > wanted.length) list.lastElementChild.remove();
  }

  threadElement(thread) {
    const id = thread.root.id;
    const signature = JSON.stringify([
      thread.root,
      thread.replies,
      formatWhen(thread.root.created_at),
      this.replies.has(id),
      this.passageOf(id) ? 1 : 0,
      this.synced,
    ]);
    const old = this.elements.get(id);
    if (old && this.signatures.get(id) === signature) return old;
    const el = this.buildThread(thread);
    if (old) old.replaceWith(el);
    this.elements.set(id, el);
    this.signatures.set(id, signature);
    return el;
  }

  buildThread({ root, replies }) {
    const id = root.id;
    const suggestion = root.replacement != null;
    const headId = `draft-thread-${id}-head`;
    const passage = this.passageOf(id);
    const li = h("li", {
      class: `draft-thread${suggestion ? " draft-thread-suggestion" : ""}`,
      id: `commentaire-${id}`,
      dataset: { id: String(id), state: root.state },
      "aria-labelledby": headId,
    });

    const head = h(
      "div",
      { class: "draft-thread-head" },
      h(
        "h3",
        { class: "draft-thread-author", id: headId },
        root.author?.name || "",
        h("span", {
          class: "visually-hidden",
          text: t(suggestion ? "js.draft.comments.suggestion_by" : "js.draft.comments.comment_by"),
        }),
      ),
      h("span", { class: `draft-state draft-state-${root.state}`, text: stateLabel(root) }),
    );
    li.append(head, this.time(root.created_at, "draft-thread-date"));

    const quote = shorten(root.quote || "", 200);
    if (passage && quote) {
      li.append(
        h(
          "button",
          { type: "button", class: "draft-thread-quote", dataset: { focusKey: `${id}:quote` } },
          h("span", { class: "visually-hidden", text: t("js.draft.comments.go_to") }),
          h("q", { text: quote }),
        ),
      );
    } else if (quote) {
      li.append(
        h(
          "p",
          { class: "draft-thread-quote draft-thread-quote-gone" },
          h("q", { text: quote }),
          " ",
          root.state === "open" && this.synced
            ? h("span", { class: "draft-thread-gone", text: t("js.draft.comments.passage_gone") })
            : null,
        ),
      );
    }

    if (suggestion) {
      const proposed = root.replacement
        ? h("ins", { class: "draft-suggest-new", text: root.replacement })
        : h("em", { class: "draft-suggest-delete", text: t("js.draft.comments.suggest_delete") });
      li.append(
        h(
          "p",
          { class: "draft-suggest" },
          h("span", { class: "draft-suggest-label", text: t("js.draft.comments.proposed") }),
          " ",
          proposed,
        ),
      );
    }
    if (root.html && root.html.trim()) {
      const body = h("div", { class: "draft-comment-body" });
      body.innerHTML = root.html; // sanitised by the server
      li.append(body);
    }

    if (replies.length) {
      li.append(
        h(
          "ol",
          { class: "draft-replies", "aria-label": tn("js.draft.comments.replies", replies.length, { n: numbers.format(replies.length) }) },
          replies.map((reply) => {
            const body = h("div", { class: "draft-comment-body" });
            body.innerHTML = reply.html || ""; // sanitised by the server
            return h(
              "li",
              { class: "draft-reply", id: `commentaire-${reply.id}` },
              h(
                "p",
                { class: "draft-reply-meta" },
                h("span", { class: "draft-reply-author", text: reply.author?.name || "" }),
                " ",
                this.time(reply.created_at, "draft-reply-date"),
              ),
              body,
            );
          }),
        ),
      );
    }

    const actions = this.actionsFor(root);
    if (actions.length) li.append(h("div", { class: "draft-thread-actions" }, actions));
    const replyForm = this.replies.get(id);
    if (replyForm) li.append(replyForm);

    li.addEventListener("click", (event) => this.onThreadClick(event, id));
    return li;
  }

  time(iso, cls) {
    return h("time", { class: cls, datetime: iso, title: formatFull(iso), text: formatWhen(iso) });
  }

  actionsFor(root) {
    if (!this.canComment) return [];
    const id = root.id;
    const suggestion = root.replacement != null;
    const mine = root.author?.id === this.me.id;
    const buttons = [];
    const button = (key, text, onclick, cls = "button button-small") =>
      h("button", { type: "button", class: cls, dataset: { focusKey: `${id}:${key}` }, text, onclick });
    if (root.state === "open") {
      buttons.push(
        button("reply", t("js.draft.comments.reply"), () => this.toggleReply(id), "button button-quiet button-small"),
      );
      if (suggestion && this.canEdit) {
        buttons.push(button("accept", t("js.draft.comments.accept"), () => this.decide(root, true), "button button-primary button-small"));
        buttons.push(button("reject", t("js.draft.comments.reject"), () => this.decide(root, false)));
      }
      if (suggestion && mine) {
        buttons.push(button("resolve", t("js.draft.comments.withdraw"), () => this.resolve(root, true)));
      } else if (!suggestion && (mine || this.canEdit)) {
        buttons.push(button("resolve", t("js.draft.comments.resolve"), () => this.resolve(root, true)));
      }
    } else if (root.state === "resolved" && (mine || this.canEdit)) {
      buttons.push(button("reopen", t("js.draft.comments.reopen"), () => this.resolve(root, false)));
    }
    return buttons;
  }

  /** New threads from others since the last list: said politely, once. */
  announceNews() {
    const ids = new Set(this.comments.map((c) => c.id));
    if (this.seenIds) {
      const fresh = this.comments.filter((c) => !this.seenIds.has(c.id) && c.author?.id !== this.me.id);
      if (fresh.length === 1) {
        const c = fresh[0];
        const key = c.parent_id != null ? "js.draft.comments.new_reply" : c.replacement != null ? "js.draft.comments.new_suggestion" : "js.draft.comments.new_comment";
        this.announce(t(key, { name: c.author?.name || "" }));
      } else if (fresh.length > 1) {
        this.announce(tn("js.draft.comments.new_many", fresh.length, { n: numbers.format(fresh.length) }));
      }
    }
    this.seenIds = ids;
  }

  // -- going to a passage --------------------------------------------------------------
  onThreadClick(event, id) {
    const target = event.target;
    const quote = target.closest(".draft-thread-quote");
    if (!quote) {
      // Controls do their own thing; a selection being made (to copy) is left alone.
      if (target.closest("button, a, form, input, textarea, summary")) return;
      if (String(window.getSelection?.() || "").length) return;
    }
    this.goTo(id, { fromKeyboard: event.detail === 0 });
  }

  /** Select the thread's passage in the editor and bring it into view. */
  goTo(id, { fromKeyboard = false } = {}) {
    const at = this.passageOf(id);
    const comment = this.comments.find((c) => c.id === id);
    if (!at) {
      this.announce(t("js.draft.comments.passage_gone"));
      return;
    }
    this.view.dispatch({
      selection: { anchor: at.from, head: at.to },
      effects: [setActive.of(id), EditorView.scrollIntoView(at.from, { y: "center" })],
    });
    this.markCurrent(this.view.state, id);
    const phone = this.tabs?.active;
    if (phone) {
      // On a phone the text is in the other tab: go there, on the passage.
      this.tabs.show("draft-panel-write");
      this.view.focus();
    } else if (fromKeyboard) {
      this.announce(t("js.draft.comments.selected", { quote: shorten(comment?.quote || "", ANNOUNCE_QUOTE_CHARS) }));
    }
  }

  /** The threads whose passage holds the caret are outlined in the list. */
  markCurrent(state, forced = null) {
    const head = state.selection.main.head;
    const here = new Set();
    if (forced != null) here.add(forced);
    else {
      for (const m of currentMarks(state.field(passages).set)) {
        if (m.kind !== "pending" && m.from <= head && head <= m.to) here.add(m.id);
      }
    }
    for (const [id, el] of this.elements) el.classList.toggle("is-current", here.has(id));
  }

  // -- the selection bar ---------------------------------------------------------------
  buildBar() {
    if (!this.bar) return;
    if (!this.canComment) {
      this.bar.remove();
      this.bar = null;
      return;
    }
    this.hint = h("p", { class: "draft-select-hint", id: "draft-select-hint" });
    const make = (id, key, onclick) =>
      h("button", {
        type: "button",
        class: "button button-small",
        id,
        "aria-describedby": "draft-select-hint",
        text: t(key),
        onclick,
      });
    this.commentButton = make("draft-comment-selection", "js.draft.comments.comment_selection", () => this.openForm("comment"));
    const buttons = [this.commentButton];
    if (this.canSuggest) {
      this.suggestButton = make("draft-suggest-selection", "js.draft.comments.suggest_selection", () => this.openForm("suggestion"));
      buttons.push(this.suggestButton);
    }
    this.bar.append(h("div", { class: "draft-select-buttons" }, buttons), this.hint);
    this.bar.hidden = false;
  }

  onSelection(state) {
    if (this.bar) {
      const sel = state.selection.main;
      const has = !sel.empty;
      for (const button of [this.commentButton, this.suggestButton]) {
        if (!button) continue;
        // aria-disabled rather than disabled: the button stays in the tab order, and
        // its description says what to do first.
        if (has) button.removeAttribute("aria-disabled");
        else button.setAttribute("aria-disabled", "true");
      }
      const text = has
        ? t("js.draft.comments.selection", { quote: shorten(state.sliceDoc(sel.from, sel.to), ANNOUNCE_QUOTE_CHARS) })
        : t(this.canSuggest ? "js.draft.comments.select_first" : "js.draft.comments.select_first_comment");
      if (this.hint.textContent !== text) this.hint.textContent = text;
    }
    if (this.elements.size) this.markCurrent(state);
  }

  // -- the new comment / suggestion form -----------------------------------------------
  openForm(kind) {
    const button = kind === "suggestion" ? this.suggestButton : this.commentButton;
    const sel = this.view.state.selection.main;
    if (sel.empty) {
      // The description says it already; say it again to whoever pressed it.
      this.announce(this.hint.textContent);
      return;
    }
    if (this.form) this.closeForm({ keepFocus: true });
    const from = sel.from;
    const to = sel.to;
    const quote = this.view.state.sliceDoc(from, to);
    const anchor = {
      start: toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(this.ytext, from))),
      // Tied to the passage's last character: text typed right after it stays out.
      end: toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(this.ytext, to, -1))),
    };
    const suggestion = kind === "suggestion";
    const titleId = "draft-new-comment-title";
    const error = h("p", { class: "draft-form-error", id: "draft-new-comment-error", role: "alert" });
    const fields = [];
    let replacement = null;
    if (suggestion) {
      replacement = h("textarea", {
        id: "draft-new-replacement",
        name: "replacement",
        rows: "4",
        "aria-describedby": "draft-new-replacement-hint draft-new-comment-error",
      });
      replacement.value = quote;
      fields.push(
        h(
          "div",
          { class: "draft-field" },
          h("label", { for: "draft-new-replacement", text: t("js.draft.comments.replacement_label") }),
          h("p", { class: "field-hint", id: "draft-new-replacement-hint", text: t("js.draft.comments.replacement_hint") }),
          replacement,
        ),
      );
    }
    const body = h("textarea", {
      id: "draft-new-body",
      name: "body",
      rows: suggestion ? "2" : "4",
      "aria-describedby": "draft-new-body-hint draft-new-comment-error",
    });
    fields.push(
      h(
        "div",
        { class: "draft-field" },
        h("label", { for: "draft-new-body", text: t(suggestion ? "js.draft.comments.note_label" : "js.draft.comments.body_label") }),
        h("p", { class: "field-hint", id: "draft-new-body-hint", text: t("js.draft.comments.body_hint") }),
        body,
      ),
    );
    const submit = h("button", {
      type: "submit",
      class: "button button-primary button-small",
      text: t(suggestion ? "js.draft.comments.suggest_submit" : "js.draft.comments.comment_submit"),
    });
    const cancel = h("button", {
      type: "button",
      class: "button button-quiet button-small",
      text: t("js.draft.comments.cancel"),
      onclick: () => this.closeForm(),
    });
    const form = h(
      "form",
      { class: "draft-comment-form", "aria-labelledby": titleId, novalidate: true },
      h("h3", { class: "draft-form-title", id: titleId, text: t(suggestion ? "js.draft.comments.suggest_title" : "js.draft.comments.comment_title") }),
      h(
        "p",
        { class: "draft-form-quote" },
        h("span", { class: "draft-form-quote-label", text: t("js.draft.comments.passage") }),
        " ",
        h("q", { text: shorten(quote, 200) }),
      ),
      fields,
      error,
      h("div", { class: "draft-form-buttons" }, submit, cancel),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitForm();
    });
    form.addEventListener("keydown", (event) => this.formKeys(event, () => this.closeForm(), () => this.submitForm()));
    this.form = { kind, from, to, anchor, quote, el: form, body, replacement, error, submit, opener: button, pending: true };
    this.formSlot.replaceChildren(form);
    this.view.dispatch({ effects: setMarks.of([...this.nonPending(), { id: "pending", kind: "pending", from, to }]) });
    this.tabs?.show("draft-panel-comments");
    const first = replacement || body;
    first.focus();
    if (replacement) replacement.select();
    first.scrollIntoView?.({ block: "nearest" });
  }

  nonPending() {
    return currentMarks(this.view.state.field(passages).set).filter((m) => m.kind !== "pending");
  }

  formKeys(event, cancel, submit) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancel();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  }

  /** Close the form: cancelled (focus back on its button), replaced, or sent. */
  closeForm({ keepFocus = false, done = false } = {}) {
    const form = this.form;
    if (!form) return;
    this.form = null;
    form.el.remove();
    this.view.dispatch({ effects: setMarks.of(this.nonPending()) });
    if (!keepFocus && !done) {
      // Back where the member was: the button under the text (on a phone, its tab).
      this.tabs?.show("draft-panel-write");
      form.opener?.focus();
    }
  }

  async submitForm() {
    const form = this.form;
    if (!form || this.busy.has("new")) return;
    const body = form.body.value.trim();
    const payload = { anchor: form.anchor, body };
    if (form.kind === "suggestion") {
      const replacement = form.replacement.value;
      if (replacement === form.quote) {
        this.formError(form, t("js.draft.comments.error.same_text"), form.replacement);
        return;
      }
      payload.replacement = replacement;
    } else if (!body) {
      this.formError(form, t("js.draft.comments.error.body.empty"), form.body);
      return;
    }
    this.busy.add("new");
    form.submit.setAttribute("aria-disabled", "true");
    try {
      let created;
      for (let attempt = 0; ; attempt++) {
        try {
          created = await this.request("", payload);
          break;
        } catch (error) {
          if (!error.unknownAnchor || attempt >= ANCHOR_RETRY_MS.length) throw error;
          await wait(ANCHOR_RETRY_MS[attempt]);
        }
      }
      this.closeForm({ done: true });
      this.announce(t(form.kind === "suggestion" ? "js.draft.comments.suggested" : "js.draft.comments.commented"));
      this.tellPeers();
      await this.refresh();
      if (created?.id != null) this.focusThread(created.id);
    } catch (error) {
      if (this.form === form) {
        this.formError(form, error.message, null);
        form.submit.removeAttribute("aria-disabled");
      } else {
        this.showAlert(error.message);
      }
    } finally {
      this.busy.delete("new");
    }
  }

  formError(form, text, field) {
    form.error.textContent = "";
    // Cleared first: the same sentence twice is read twice.
    requestAnimationFrame(() => {
      form.error.textContent = text;
    });
    for (const el of [form.body, form.replacement]) el?.removeAttribute("aria-invalid");
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  focusThread(id) {
    const el = this.elements.get(id);
    if (!el) return;
    if (el.parentElement === this.closedList) this.closedBox.open = true;
    const target = el.querySelector("button.draft-thread-quote") || el.querySelector("button");
    if (target) target.focus();
    el.scrollIntoView?.({ block: "nearest" });
  }

  /** `#commentaire-<id>` (the notifications' links): that thread, and its passage. */
  fromHash() {
    const found = /^#commentaire-(\d+)$/.exec(location.hash);
    if (!found) return;
    const id = Number(found[1]);
    const comment = this.comments.find((c) => c.id === id);
    if (!comment) return;
    const rootId = comment.parent_id ?? comment.id;
    this.tabs?.show("draft-panel-comments");
    this.focusThread(rootId);
    if (this.passageOf(rootId) && !this.tabs?.active) {
      this.view.dispatch({
        selection: { anchor: this.passageOf(rootId).from, head: this.passageOf(rootId).to },
        effects: [setActive.of(rootId), EditorView.scrollIntoView(this.passageOf(rootId).from, { y: "center" })],
      });
    }
  }

  // -- replies, resolution, decisions --------------------------------------------------
  toggleReply(id) {
    if (this.replies.has(id)) {
      this.replies.get(id).remove();
      this.replies.delete(id);
      this.rerender(id, "reply");
      return;
    }
    const fieldId = `draft-reply-${id}`;
    const errorId = `draft-reply-${id}-error`;
    const text = h("textarea", {
      id: fieldId,
      name: "body",
      rows: "3",
      "aria-describedby": errorId,
      dataset: { focusKey: `${id}:reply-text` },
    });
    const error = h("p", { class: "draft-form-error", id: errorId, role: "alert" });
    const submit = h("button", { type: "submit", class: "button button-primary button-small", text: t("js.draft.comments.reply_submit") });
    const form = h(
      "form",
      { class: "draft-reply-form", novalidate: true },
      h("label", { for: fieldId, text: t("js.draft.comments.reply_label") }),
      text,
      error,
      h(
        "div",
        { class: "draft-form-buttons" },
        submit,
        h("button", {
          type: "button",
          class: "button button-quiet button-small",
          text: t("js.draft.comments.cancel"),
          onclick: () => this.toggleReply(id),
        }),
      ),
    );
    const state = { el: form, body: text, error, submit };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitReply(id, state);
    });
    form.addEventListener("keydown", (event) =>
      this.formKeys(event, () => this.toggleReply(id), () => this.submitReply(id, state)),
    );
    this.replies.set(id, form);
    this.render();
    text.focus();
  }

  /** Draw one thread again, focus on its `key` control. */
  rerender(id, key) {
    this.signatures.delete(id);
    this.render();
    this.elements.get(id)?.querySelector(`[data-focus-key="${id}:${key}"]`)?.focus();
  }

  async submitReply(id, form) {
    const key = `reply:${id}`;
    if (this.busy.has(key)) return;
    const body = form.body.value.trim();
    if (!body) {
      this.formError(form, t("js.draft.comments.error.body.empty"), form.body);
      return;
    }
    this.busy.add(key);
    form.submit.setAttribute("aria-disabled", "true");
    try {
      await this.request("", { parent_id: id, body });
      this.replies.delete(id);
      form.el.remove();
      this.signatures.delete(id);
      this.announce(t("js.draft.comments.replied"));
      this.tellPeers();
      await this.refresh();
      this.elements.get(id)?.querySelector(`[data-focus-key="${id}:reply"]`)?.focus();
    } catch (error) {
      this.formError(form, error.message, null);
      form.submit.removeAttribute("aria-disabled");
    } finally {
      this.busy.delete(key);
    }
  }

  async resolve(root, resolved) {
    await this.act(root, `/${root.id}/resolve`, { resolved }, resolved ? "js.draft.comments.resolved_done" : "js.draft.comments.reopened");
  }

  async decide(root, accept) {
    await this.act(root, `/${root.id}/decision`, { accept }, accept ? "js.draft.comments.accepted" : "js.draft.comments.rejected");
  }

  /** A resolve or decision: the thread changes list, so focus goes to its neighbour. */
  async act(root, path, payload, doneKey) {
    const key = `act:${root.id}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    const el = this.elements.get(root.id);
    const list = el?.parentElement;
    const index = list ? [...list.children].indexOf(el) : -1;
    try {
      await this.request(path, payload);
      this.clearAlert();
      this.announce(t(doneKey));
      this.tellPeers();
      await this.refresh();
      this.focusAfterMove(root.id, list, index);
    } catch (error) {
      this.showAlert(error.message);
    } finally {
      this.busy.delete(key);
    }
  }

  focusAfterMove(id, list, index) {
    const el = this.elements.get(id);
    if (el && el.parentElement === list) {
      el.querySelector("button")?.focus();
      return;
    }
    const neighbour = list?.children[Math.min(index, list.children.length - 1)];
    const target =
      neighbour?.querySelector("button.draft-thread-quote") ||
      neighbour?.querySelector("button") ||
      (this.closedBox.hidden ? null : this.closedBox.querySelector("summary"));
    if (target) target.focus();
    else this.panel.focus();
  }

  showAlert(text) {
    clearTimeout(this.alertTimer);
    this.alertEl.replaceChildren(h("p", { text }));
    this.alertTimer = setTimeout(() => this.clearAlert(), 15_000);
  }

  clearAlert() {
    clearTimeout(this.alertTimer);
    this.alertEl.replaceChildren();
  }
}
