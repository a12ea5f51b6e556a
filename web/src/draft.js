// The co-edited draft page: a Yjs document synced over the standard y-websocket protocol
// (ws(s)://host/ws/drafts/<id>, cookie-authenticated), shown in CodeMirror
// (draft-editor.js) with the other members' carets (draft-cursors.js), who is present
// (draft-presence.js), a live server-rendered preview (draft-preview.js), the comments
// and suggestions panel (draft-comments.js) and, on a phone, tabs between writing,
// preview and comments (draft-tabs.js).
//
// Offline, edits stay in the local Y.Doc; the provider reconnects by itself and Yjs
// merges them with the others' on the next sync.
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { byId, h, readJSON } from "./dom.js";
import { locale, t, tn } from "./i18n.js";
import { MemberColors, adoptColors, lightColor, normalColor } from "./draft-colors.js";
import { Comments } from "./draft-comments.js";
import { createEditor } from "./draft-editor.js";
import { Presence } from "./draft-presence.js";
import { Preview } from "./draft-preview.js";
import { Tabs } from "./draft-tabs.js";

const ALERT_MS = 10_000;
// Ask the server for what we miss every 12 s: repairs a lost update, and keeps a lone
// editor's socket alive (the provider drops a socket silent for 30 s).
const RESYNC_MS = 12_000;
// Close codes (server/drafts.py, server/errors.py).
const CLOSE_READ_ONLY = 4003;
const CLOSE_SESSION_ENDED = 4001;
const CLOSE_NOT_AUTHENTICATED = 4401;
const CLOSE_BAD_UPDATE = 4400;
const CLOSE_NOT_FOUND = 4404;
const WORDS_EVERY_MS = 300;
const numbers = new Intl.NumberFormat(locale);

function socketBase(wsUrl) {
  if (/^wss?:\/\//.test(wsUrl)) return wsUrl;
  return location.origin.replace(/^http/, "ws") + wsUrl;
}

function countWords(text) {
  return (text.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) || []).length;
}

class DraftPage {
  constructor(boot) {
    this.boot = boot;
    this.me = boot.me;
    this.canWrite = Boolean(boot.can_edit) && !boot.draft.locked;
    this.state = "connecting";
    this.synced = false;
    this.everSynced = false;
    this.statusEl = byId("draft-status");
    this.alertEl = byId("draft-alert");
    this.announcer = byId("draft-announcer");
  }

  start() {
    adoptColors(document);
    this.ydoc = new Y.Doc();
    this.ytext = this.ydoc.getText("markdown");
    this.provider = new WebsocketProvider(socketBase(this.boot.ws_url), String(this.boot.room), this.ydoc, {
      resyncInterval: RESYNC_MS,
      // A 44xx close is final (the provider's default); so is an ended session.
      shouldReconnect: (event) => event.code !== CLOSE_SESSION_ENDED && !(event.code >= 4400 && event.code < 4500),
    });
    this.awareness = this.provider.awareness;
    const color = normalColor(this.me.color);
    this.awareness.setLocalStateField("user", {
      id: this.me.id,
      name: this.me.name,
      color,
      colorLight: lightColor(color),
    });

    // First listener: the colours are settled before the carets and the list redraw.
    this.colors = new MemberColors();
    this.colors.update(this.awareness.getStates());
    this.awareness.on("change", () => this.colors.update(this.awareness.getStates()));

    this.comments = new Comments({
      boot: this.boot,
      ytext: this.ytext,
      awareness: this.awareness,
      announce: (text) => this.announce(text),
    });

    const updateBytes = Number(this.boot.limits?.update_bytes) || 0;
    // Room for the update's own framing (ids, lengths) around the inserted text.
    const maxInsertBytes = updateBytes ? Math.max(updateBytes - 1024, Math.floor(updateBytes / 2)) : 0;
    this.editor = createEditor({
      host: byId("draft-editor"),
      ytext: this.ytext,
      awareness: this.awareness,
      colors: this.colors,
      canWrite: this.canWrite,
      label: byId("draft-editor-label").textContent.trim(),
      hint: byId("draft-editor-hint").textContent.trim(),
      placeholderText: this.canWrite ? t("js.draft.placeholder") : "",
      maxInsertBytes,
      onTooLong: () => this.alert(t("js.draft.too_long", { max: numbers.format(Math.floor(maxInsertBytes / 1024)) })),
      extensions: this.comments.extensions(),
    });

    this.preview = new Preview({
      url: `/api/drafts/${encodeURIComponent(this.boot.draft.id)}/preview`,
      el: byId("draft-preview"),
      note: byId("draft-preview-note"),
    });
    this.presence = new Presence({
      awareness: this.awareness,
      me: this.me,
      colors: this.colors,
      // Arrivals and departures only while connected: a reconnection is not news.
      announce: (text) => {
        if (this.state === "online") this.announce(text);
      },
    });
    this.presence.render();
    this.tabs = new Tabs({ onShow: (panelId) => this.onPanelShown(panelId) });
    this.comments.attach({ view: this.editor.view, tabs: this.tabs });
    // "Aller à l'éditeur" puts the caret in the text (on a phone, on the writing tab).
    document.querySelector('.skip-link[href="#draft-panel-write"]')?.addEventListener("click", (event) => {
      event.preventDefault();
      this.tabs.show("draft-panel-write");
      this.editor.focus();
    });

    this.ytext.observe(() => {
      this.preview.schedule();
      this.scheduleWords();
    });
    this.provider.on("status", ({ status }) => this.onSocketStatus(status));
    this.provider.on("sync", (synced) => this.onSync(synced));
    this.provider.on("connection-close", (event) => this.onClose(event));
    this.provider.on("closed", ({ code }) => this.setState("closed", code));
    window.addEventListener("offline", () => this.onSocketStatus("disconnected"));
    // Back online with the socket still open (it may survive a short cut): say so; a
    // socket that died is replaced by the provider, which reports it itself.
    window.addEventListener("online", () => {
      if (this.provider.wsconnected && this.provider.synced) this.setState("online");
    });
    // Leave the others' lists at once rather than after the 30 s awareness timeout.
    window.addEventListener("pagehide", () => this.awareness.setLocalState(null));
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.restoreAwareness();
    });
    this.renderWords();
    this.bindExportMenu();
  }

  /** The "Exporter" disclosure closes with Escape (focus back on it) or a click elsewhere. */
  bindExportMenu() {
    const menu = byId("draft-export");
    if (!menu) return;
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  }

  restoreAwareness() {
    const color = normalColor(this.me.color);
    this.awareness.setLocalStateField("user", {
      id: this.me.id,
      name: this.me.name,
      color,
      colorLight: lightColor(color),
    });
  }

  // -- connection ----------------------------------------------------------------------
  onSocketStatus(status) {
    if (this.state === "closed") return;
    if (status === "connected") {
      if (this.provider.synced) this.setState("online");
    } else if (status === "disconnected") {
      this.setState("offline");
    }
    // "connecting": keep saying what was last true (no chatter at every retry).
  }

  onClose(event) {
    if (event?.code === CLOSE_READ_ONLY && this.canWrite) {
      // Locked meanwhile, or a right withdrawn: the refused edit stays only here.
      this.canWrite = false;
      this.editor.setEditable(false);
      this.alert(t("js.draft.read_only_now"), {
        keep: true,
        link: h("a", { href: location.pathname, text: t("js.draft.status.reload") }),
      });
    }
    this.onSocketStatus("disconnected");
  }

  onSync(synced) {
    this.synced = synced;
    if (!synced) return;
    if (!this.everSynced) {
      this.everSynced = true;
      if (this.canWrite) this.editor.setEditable(true);
    }
    this.setState("online");
    this.comments.onSynced();
  }

  setState(state, code = 0) {
    if (state === this.state) return;
    this.state = state;
    const el = this.statusEl;
    el.dataset.state = state;
    if (state === "online") {
      el.textContent = t("js.draft.status.online");
      this.preview.setOnline(true);
      this.preview.refresh();
    } else if (state === "offline") {
      el.textContent = t(this.canWrite ? "js.draft.status.offline" : "js.draft.status.offline_readonly");
      this.preview.setOnline(false);
    } else if (state === "closed") {
      this.closedMessage(el, code);
      this.editor.setEditable(false);
      this.preview.setOnline(false);
    }
  }

  closedMessage(el, code) {
    const login = h("a", {
      href: `/connexion?next=${encodeURIComponent(location.pathname)}`,
      text: t("js.draft.status.login"),
    });
    const reload = h("a", { href: location.pathname, text: t("js.draft.status.reload") });
    if (code === CLOSE_SESSION_ENDED || code === CLOSE_NOT_AUTHENTICATED) {
      el.replaceChildren(`${t("js.draft.status.ended")} `, login);
    } else if (code === CLOSE_NOT_FOUND) {
      el.replaceChildren(t("js.draft.status.gone"));
    } else if (code === CLOSE_BAD_UPDATE) {
      el.replaceChildren(`${t("js.draft.status.refused")} `, reload);
    } else {
      el.replaceChildren(`${t("js.draft.status.closed")} `, login);
    }
  }

  // -- around the editor ---------------------------------------------------------------
  onPanelShown(panelId) {
    if (panelId === "draft-panel-write") this.editor?.view.requestMeasure();
    else if (panelId === "draft-panel-preview" && this.state === "online") this.preview?.refresh();
  }

  scheduleWords() {
    if (this.wordsTimer) return; // at most one count every 300 ms, the last one included
    this.wordsTimer = setTimeout(() => {
      this.wordsTimer = null;
      this.renderWords();
    }, WORDS_EVERY_MS);
  }

  renderWords() {
    const n = countWords(this.ytext.toString());
    byId("draft-words").textContent = tn("js.draft.words", n, { n: numbers.format(n) });
  }

  alert(text, { keep = false, link = null } = {}) {
    clearTimeout(this.alertTimer);
    this.alertEl.replaceChildren(h("p", {}, text, link ? " " : null, link));
    if (!keep) this.alertTimer = setTimeout(() => this.alertEl.replaceChildren(), ALERT_MS);
  }

  announce(text) {
    // Gathered for a moment (several people may come at once), the region cleared
    // first so that the same sentence twice is read twice.
    this.announcements = [...(this.announcements || []), text];
    clearTimeout(this.announceTimer);
    this.announcer.textContent = "";
    this.announceTimer = setTimeout(() => {
      this.announcer.textContent = this.announcements.join(" ");
      this.announcements = [];
    }, 150);
  }
}

const boot = readJSON("boot");
if (boot) {
  const page = new DraftPage(boot);
  page.start();
  window.atelierDraft = page; // for the browser tests and debugging
}
