// The room page: wires the socket (socket.js), the room state (store.js), the message
// views (messages.js), the form (composer.js) and the side panel (side.js).
//
// Event order: room events carry `seq`. An event at or below the last applied seq is a
// duplicate and is dropped; one beyond it reveals a gap, filled from
// GET /api/rooms/N/events?after=… before going on; `reset` (or a failed fill) reloads the
// newest page from GET /api/rooms/N/messages.
import { byId, h, readJSON, replacePreservingFocus, uuid } from "./dom.js";
import { formatWhen } from "./dates.js";
import { t, tn } from "./i18n.js";
import { shorten } from "./text.js";
import { renderDivider, renderMessage } from "./messages.js";
import { Composer } from "./composer.js";
import { RoomModeration } from "./moderation.js";
import { POLL_EVENTS, RoomPolls } from "./polls.js";
import { Side } from "./side.js";
import { ChatSocket } from "./socket.js";
import { PAGE_SIZE, RoomStore } from "./store.js";

const ROOM_EVENTS = new Set([
  "message.posted",
  "message.edited",
  "message.deleted",
  "reaction.added",
  "reaction.removed",
  "topic.renamed",
  "messages.moved",
  "message.hidden",
  "message.restored",
  "message.pinned",
  "message.unpinned",
  "room.locked",
  "room.unlocked",
  "room.slow_mode",
  "room.updated",
  "announcement.posted",
  "member.muted",
  "member.unmuted",
  "member.removed",
  // Polls and procurations (polls.js): in the same log, so lastSeq stays gap-free.
  ...POLL_EVENTS,
]);
// Moderation frames on the member's own channel (moderation.js).
const MODERATION_FRAMES = new Set(["flag.raised", "flag.resolved", "announcement.acknowledged", "moderation.notice"]);
const READ_DELAY_MS = 600;
const BOTTOM_SLACK_PX = 48;
const EVENTS_PAGE = 500;
const ANNOUNCED_CHARS = 280; // a new message read out is cut there
const ANNOUNCED_KEPT = 3;

async function getJSON(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

class ChatPage {
  constructor(boot) {
    this.boot = boot;
    this.me = boot.me;
    this.roomId = boot.room.id;
    this.canPost = boot.can_post;
    this.canModerate = Boolean(boot.can_moderate);
    this.moderating = null; // message id whose "Modérer" menu is open
    this.flagging = null; // message id whose "Signaler" form is open
    this.store = new RoomStore(boot);
    this.filter = null; // null: all topics
    this.names = new Map([[this.me.id, this.me.name]]);
    this.pending = new Map(); // client_id -> pending message
    this.elements = new Map(); // message id -> element
    this.paletteOpen = null;
    this.editing = null;
    this.newBelow = 0;
    this.syncing = false;
    this.queued = [];
    this.readSent = new Map(); // "" (room) or topic -> seq
    this.quiet = new Set(); // request ids whose errors the poll cards show themselves
    this.hellos = 0;
    this.scroller = byId("scroller");
    this.log = byId("messages");
    this.pendingList = byId("pending-list");
    this.olderButton = byId("load-older");
    this.messageAnnouncer = byId("message-announcer");
    this.historyNote = byId("history-note");
    this.newBelowButton = byId("new-below");
  }

  start() {
    for (const message of this.store.messages.values()) this.learn(message);
    this.firstUnread = this.store.firstUnreadSeq(this.me.id);
    this.side = new Side({
      me: this.me,
      canManageTopics: this.boot.can_manage_topics,
      onFilter: (topic) => this.setFilter(topic),
      onRename: (topic) => this.renameTopic(topic),
    });
    this.composer = new Composer({
      limits: this.boot.limits,
      defaultTopic: this.boot.default_topic,
      onSend: (draft) => this.send(draft),
      onTyping: (topic) => this.socket.notify({ type: "typing", room_id: this.roomId, topic }),
      onInvalid: (text) => this.alert(text),
    });
    this.moderation = new RoomModeration({
      roomId: this.roomId,
      store: this.store,
      me: this.me,
      canModerate: this.canModerate,
      request: (frame) => this.request(frame),
      alert: (text) => this.alert(text),
      status: (text) => this.side.status(text),
      onJump: (id) => this.jumpTo(id),
    });
    this.polls = new RoomPolls({
      roomId: this.roomId,
      me: this.me,
      voters: this.boot.voters,
      request: (frame) => this.requestQuiet(frame),
      topic: () => this.filter ?? this.boot.default_topic,
      announce: (text) => this.side.status(text),
    });
    this.bind();
    this.renderSide();
    this.renderAll();
    this.scrollToStart();
    this.moderation.start();
    this.polls.start();
    this.socket = new ChatSocket({
      url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
      subscriptions: () => [{ room_id: this.roomId, after_seq: this.store.lastSeq }],
      onFrame: (frame) => this.onFrame(frame),
      onStatus: (state, info) => this.onStatus(state, info),
    });
    this.socket.start();
    setInterval(() => this.refreshTimes(), 60_000);
  }

  // -- wiring --------------------------------------------------------------------------
  bind() {
    this.scroller.addEventListener("click", (event) => this.onClick(event));
    this.scroller.addEventListener("keydown", (event) => this.onKeydown(event));
    this.scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.olderButton.addEventListener("click", () => this.loadOlder());
    this.newBelowButton.addEventListener("click", () => {
      this.scrollToBottom();
      this.scroller.focus({ preventScroll: true });
    });
    window.addEventListener("focus", () => this.scheduleRead());
    document.addEventListener("visibilitychange", () => this.scheduleRead());
  }

  learn(message) {
    this.names.set(message.author.id, message.author.name);
  }

  view(message, extra = {}) {
    return {
      me: this.me,
      canPost: this.canPost,
      showTopic: this.filter === null,
      nameOf: (id) => this.names.get(id) || t("js.reaction.someone"),
      paletteOpen: this.paletteOpen === message.id,
      editing: this.editing === message.id,
      canModerate: this.canModerate,
      canBlock: Boolean(this.boot.can_block),
      canFlag: Boolean(this.store.state.me?.can_flag),
      flagReasons: this.boot.flag_reasons || [],
      pinned: message.id !== null && this.store.isPinned(message.id),
      moderating: this.moderating === message.id,
      flagging: this.flagging === message.id,
      ...extra,
    };
  }

  // -- frames --------------------------------------------------------------------------
  onFrame(frame) {
    if (frame.room_id !== undefined && frame.room_id !== this.roomId && frame.type !== "ack") return;
    switch (frame.type) {
      case "hello":
        this.names.set(frame.user.id, frame.user.name);
        this.hellos += 1;
        if (this.hellos > 1) this.polls.reload(); // back after a disconnection
        break;
      case "reset":
        this.reload();
        this.moderation.reload();
        this.polls.reload();
        break;
      case "live":
        this.scheduleRead();
        break;
      case "removed":
        this.removed(frame);
        break;
      case "unread":
        this.store.unread = { unread: frame.unread, mentions: frame.mentions, topics: frame.topics || {} };
        this.renderSide();
        break;
      case "presence":
        for (const user of frame.users) this.names.set(user.id, user.name);
        this.side.setPresence(frame.users);
        break;
      case "typing":
        if (frame.user.id !== this.me.id) this.side.typing(frame.user, frame.topic);
        break;
      case "ack":
        this.onAck(frame);
        break;
      case "error":
        this.onError(frame);
        break;
      default:
        if (ROOM_EVENTS.has(frame.type)) this.onEvent(frame);
        else if (MODERATION_FRAMES.has(frame.type)) this.moderation.onUserFrame(frame);
    }
  }

  onAck(frame) {
    if (frame.id) this.quiet.delete(frame.id);
    const pending = frame.client_id && this.pending.get(frame.client_id);
    if (pending && pending.state !== "sent") {
      pending.state = "sent";
      this.redrawPending(pending);
    }
  }

  onError(frame) {
    const pending = frame.client_id && this.pending.get(frame.client_id);
    if (pending) {
      pending.state = "failed";
      pending.reason = frame.message;
      this.redrawPending(pending);
    }
    if (frame.id && this.quiet.delete(frame.id)) return; // shown where it was asked
    // Errors without a request id answer typing/read notifications: nothing to say.
    if (frame.id) this.alert(frame.message || t("js.error.generic"));
  }

  onStatus(state, info = {}) {
    const el = byId("conn-status");
    clearTimeout(this.statusTimer);
    el.classList.toggle("is-offline", state === "offline" || state === "ended");
    if (state === "online") {
      el.textContent = this.wasOffline ? t("js.status.online") : "";
      if (this.wasOffline) this.statusTimer = setTimeout(() => (el.textContent = ""), 4000);
      this.wasOffline = false;
      for (const pending of this.pending.values()) {
        if (pending.state === "waiting") {
          pending.state = "sending";
          this.redrawPending(pending);
        }
      }
    } else if (state === "connecting") {
      if (this.wasOffline) el.textContent = t("js.status.connecting");
    } else if (state === "offline") {
      this.wasOffline = true;
      el.textContent = t("js.status.offline", { s: Math.max(1, Math.round(info.delay / 1000)) });
    } else if (state === "ended") {
      const next = encodeURIComponent(location.pathname);
      el.replaceChildren(
        `${t("js.status.ended")} `,
        h("a", { href: `/connexion?next=${next}`, text: t("js.status.login") }),
      );
    }
  }

  // -- the event log ---------------------------------------------------------------------
  onEvent(event) {
    if (this.syncing) {
      this.queued.push(event);
      return;
    }
    if (event.seq <= this.store.lastSeq) return;
    if (event.seq > this.store.lastSeq + 1) {
      this.queued.push(event);
      this.fillGap();
      return;
    }
    this.apply(event);
  }

  async fillGap() {
    this.syncing = true;
    try {
      for (;;) {
        const data = await getJSON(
          `/api/rooms/${this.roomId}/events?after=${this.store.lastSeq}&limit=${EVENTS_PAGE}`,
        );
        for (const event of data.events) {
          if (event.seq === this.store.lastSeq + 1) this.apply(event);
        }
        if (data.events.length < EVENTS_PAGE) break;
      }
    } catch {
      this.syncing = false;
      this.reload();
      return;
    }
    this.syncing = false;
    const queued = this.queued.sort((a, b) => a.seq - b.seq);
    this.queued = [];
    for (const event of queued) {
      if (event.seq > this.store.lastSeq + 1) {
        this.reload(); // The log itself has a hole: start again from the current state.
        return;
      }
      if (event.seq === this.store.lastSeq + 1) this.apply(event);
    }
  }

  async reload() {
    if (this.reloading) return;
    this.reloading = true;
    this.syncing = true;
    try {
      const [page, topics] = await Promise.all([
        getJSON(`/api/rooms/${this.roomId}/messages?limit=${PAGE_SIZE}`),
        getJSON(`/api/rooms/${this.roomId}/topics`),
      ]);
      this.store.load(page.messages, page.last_seq);
      this.messageAnnouncer.replaceChildren();
      this.store.setTopics(topics.topics);
      for (const message of page.messages) this.learn(message);
      this.firstUnread = null;
      this.editing = null;
      this.paletteOpen = null;
      this.moderating = null;
      this.flagging = null;
      this.renderSide();
      this.renderAll();
      this.scrollToBottom();
    } catch {
      this.alert(t("js.error.generic"));
    } finally {
      this.syncing = false;
      this.reloading = false;
    }
    const queued = this.queued.filter((e) => e.seq > this.store.lastSeq).sort((a, b) => a.seq - b.seq);
    this.queued = [];
    for (const event of queued) this.onEvent(event);
  }

  apply(event) {
    const change = this.store.apply(event);
    if (POLL_EVENTS.has(event.type)) this.polls.onEvent(event);
    if (change.kind === "added") this.added(change.message);
    else if (change.kind === "updated") {
      this.changed(change.ids);
      // The store has counted the change: every member asking the server again at once
      // would recount the whole room as many times (docs/performance.md, finding 36).
      if (change.topics) this.renderSide();
      if (change.state) this.moderation.render();
    } else if (change.kind === "state") {
      this.changed(change.ids || []);
      this.moderation.render();
      if (change.announce) this.side.status(t(`js.state.${change.announce}`, { s: event.seconds }));
    } else if (change.kind === "topics") {
      if (change.renamed) {
        if (this.filter === change.renamed.old) {
          this.filter = change.renamed.new;
          this.renderHeading();
        }
        this.composer.renameTopic(change.renamed.old, change.renamed.new);
        this.side.status(t("js.topic.renamed", { topic: change.renamed.new }));
      }
      this.renderAll();
      this.refreshTopics();
    }
  }

  added(message) {
    this.learn(message);
    this.side.stopTyping(message.author.id);
    const wasAtBottom = this.atBottom();
    const mine = message.author.id === this.me.id;
    if (message.client_id && this.pending.has(message.client_id)) {
      this.pending.delete(message.client_id);
      byId(`p-${message.client_id}`)?.remove();
    }
    if (!mine && !(this.isReading() && this.shows(message))) this.store.countUnread(message, this.me.id);
    const el = this.insert(message);
    if (el && !mine && !this.syncing) this.announce(message, el);
    this.renderSide();
    if (el) {
      if (mine || wasAtBottom) this.scrollToBottom();
      else {
        this.newBelow += 1;
        this.showNewBelow();
      }
    }
    this.scheduleRead();
  }

  shows(message) {
    return this.filter === null || message.topic === this.filter;
  }

  /**
   * A screen reader hears a new message as one sentence: who, in which topic, what. The
   * list is not a live region (its articles carry the time and the buttons Répondre,
   * Réagir…, which would be read with every message); the backlog fetched after a
   * reconnection is not read out, nor one's own messages. The last few stay, until
   * their message changes (`changed`).
   */
  announce(message, el) {
    const text = shorten(el.querySelector(".msg-body")?.textContent, ANNOUNCED_CHARS);
    const line = t("js.msg.spoken", { a: message.author.name, topic: message.topic, text });
    this.messageAnnouncer.append(h("p", { text: line, dataset: { id: message.id } }));
    while (this.messageAnnouncer.childElementCount > ANNOUNCED_KEPT) {
      this.messageAnnouncer.firstElementChild.remove();
    }
  }

  /** Messages the log changed (edited, deleted, hidden, reacted to): drawn again, and
   * their old text no longer left in the announcer. */
  changed(ids) {
    for (const id of ids) {
      for (const line of this.messageAnnouncer.querySelectorAll(`p[data-id="${Number(id)}"]`)) line.remove();
      this.redraw(id);
    }
  }

  // -- drawing ---------------------------------------------------------------------------
  renderSide() {
    this.side.setTopics(this.store.topicList(), this.store.unread, this.filter);
    this.composer.setTopics(this.store.topicList().map((topic) => topic.name));
  }

  async refreshTopics() {
    try {
      const data = await getJSON(`/api/rooms/${this.roomId}/topics`);
      this.store.setTopics(data.topics);
      this.renderSide();
    } catch {
      // The list stays as it was; the next change refreshes it.
    }
  }

  renderAll() {
    const focus = this.focusInLog();
    this.log.setAttribute("aria-busy", "true");
    this.elements.clear();
    const nodes = [];
    let divided = false;
    for (const message of this.store.visible(this.filter)) {
      if (message.client_id && this.pending.has(message.client_id)) this.pending.delete(message.client_id);
      const unread = this.firstUnread !== null && message.seq >= this.firstUnread;
      if (!divided && unread && message.author.id !== this.me.id) {
        nodes.push(renderDivider());
        divided = true;
      }
      const el = renderMessage(message, this.view(message));
      this.elements.set(message.id, el);
      nodes.push(el);
    }
    if (!this.elements.size) {
      const text = t(this.filter === null ? "js.empty" : "js.empty_topic");
      nodes.push(h("p", { class: "empty-note", id: "empty-note", text }));
    }
    this.log.replaceChildren(...nodes);
    this.pendingList.replaceChildren(
      ...[...this.pending.values()].map((pending) => this.pendingElement(pending)),
    );
    this.updateHistoryTop();
    this.restoreFocus(focus);
    setTimeout(() => this.log.setAttribute("aria-busy", "false"), 0);
  }

  focusInLog() {
    const active = document.activeElement;
    const article = active?.closest?.("article.msg");
    if (!article || !this.scroller.contains(article)) return null;
    return { id: article.id, key: active === article ? null : active.dataset.focusKey };
  }

  restoreFocus(focus) {
    if (!focus) return;
    const article = byId(focus.id);
    if (!article) return;
    const target = focus.key
      ? [...article.querySelectorAll("[data-focus-key]")].find((el) => el.dataset.focusKey === focus.key)
      : article;
    (target || article).focus({ preventScroll: true });
  }

  insert(message) {
    if (!this.shows(message)) return null;
    byId("empty-note")?.remove();
    const el = renderMessage(message, this.view(message));
    this.elements.set(message.id, el);
    const articles = this.log.querySelectorAll("article[data-seq]");
    const later = [...articles].reverse().filter((a) => Number(a.dataset.seq) > message.seq).pop();
    this.log.insertBefore(el, later || null);
    return el;
  }

  redraw(id, force = false) {
    const old = this.elements.get(id);
    const message = this.store.messages.get(id);
    if (!old || !message || (this.editing === id && !force)) return;
    const el = renderMessage(message, this.view(message));
    replacePreservingFocus(old, el);
    this.elements.set(id, el);
  }

  pendingElement(pending) {
    return renderMessage(pending, this.view(pending, { showTopic: true, paletteOpen: false, editing: false }));
  }

  redrawPending(pending) {
    const old = byId(`p-${pending.client_id}`);
    if (old) replacePreservingFocus(old, this.pendingElement(pending));
  }

  updateHistoryTop() {
    const older = this.store.hasOlder(this.filter);
    this.olderButton.hidden = !older;
    this.historyNote.textContent = older || !this.elements.size ? "" : t("js.history.start");
  }

  /** The previous page of history (of the shown topic), keeping the reading position. */
  async loadOlder() {
    if (this.loadingOlder) return;
    this.loadingOlder = true;
    this.olderButton.disabled = true;
    this.historyNote.textContent = t("js.history.loading");
    const topic = this.filter;
    const params = new URLSearchParams({ before: this.store.oldestShown(topic), limit: PAGE_SIZE });
    if (topic !== null) params.set("topic", topic);
    try {
      const page = await getJSON(`/api/rooms/${this.roomId}/messages?${params}`);
      if (this.filter !== topic) return; // The member switched topics meanwhile.
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.store.addOlder(page.messages, topic);
      for (const message of page.messages) this.learn(message);
      this.renderAll();
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } catch {
      this.historyNote.textContent = t("js.history.failed");
    } finally {
      this.loadingOlder = false;
      this.olderButton.disabled = false;
      if (!this.olderButton.hidden) this.olderButton.focus({ preventScroll: true });
      else this.scroller.focus({ preventScroll: true });
    }
  }

  refreshTimes() {
    for (const time of this.scroller.querySelectorAll("time[datetime]")) {
      time.textContent = formatWhen(time.getAttribute("datetime"));
    }
  }

  // -- scrolling and reading ---------------------------------------------------------------
  atBottom() {
    const box = this.scroller;
    return box.scrollHeight - box.scrollTop - box.clientHeight <= BOTTOM_SLACK_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.newBelow = 0;
    this.newBelowButton.hidden = true;
  }

  /** On opening: the "Nouveaux messages" divider near the top, else the latest message. */
  scrollToStart() {
    const divider = byId("divider-new");
    if (divider) this.scroller.scrollTop = Math.max(0, divider.offsetTop - 8);
    else this.scrollToBottom();
  }

  showNewBelow() {
    this.newBelowButton.replaceChildren(
      tn("js.new_below", this.newBelow),
      h("span", { "aria-hidden": "true", text: " ↓" }),
    );
    this.newBelowButton.hidden = false;
  }

  onScroll() {
    if (this.atBottom()) {
      this.newBelow = 0;
      this.newBelowButton.hidden = true;
      this.scheduleRead();
    }
  }

  isReading() {
    return document.visibilityState === "visible" && document.hasFocus() && this.atBottom();
  }

  scheduleRead() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => this.markRead(), READ_DELAY_MS);
  }

  markRead() {
    if (!this.socket || !this.isReading()) return;
    const key = this.filter ?? "";
    const seq = this.store.lastSeq;
    if (seq <= (this.readSent.get(key) || 0)) return;
    const frame = { type: "read", room_id: this.roomId, seq };
    if (this.filter !== null) frame.topic = this.filter;
    if (this.socket.notify(frame)) this.readSent.set(key, seq);
  }

  // -- topics ----------------------------------------------------------------------------
  setFilter(topic) {
    if (this.filter === topic) return;
    this.filter = topic;
    this.paletteOpen = null;
    this.editing = null;
    this.renderSide();
    this.renderAll();
    this.scrollToBottom();
    this.renderHeading();
    this.side.status(topic === null ? t("js.topic.shown_all") : t("js.topic.shown", { topic }));
    this.composer.followTopic(topic);
    this.scheduleRead();
  }

  renderHeading() {
    const topic = this.filter;
    byId("messages-title").textContent =
      topic === null ? t("js.topic.all") : t("js.topic.heading", { topic });
  }

  renameTopic(topic) {
    // A native prompt is keyboard- and screen-reader-friendly and needs no dialog code.
    const name = window.prompt(t("js.topic.rename_prompt", { topic }), topic);
    if (!name || !name.trim() || name.trim() === topic) return;
    this.request({ type: "topic.rename", room_id: this.roomId, old: topic, new: name.trim() });
  }

  // -- actions ---------------------------------------------------------------------------
  request(frame) {
    return this.socket.request(frame).catch((error) => {
      // Error frames are shown by onError; here only what never reached the server.
      if (error.type !== "error") this.alert(t(`js.error.${error.code}`));
      throw error;
    });
  }

  /** A request whose refusal the caller shows itself (the poll cards), not in the alert. */
  requestQuiet(frame) {
    return this.socket.request(frame, (id) => this.quiet.add(id));
  }

  send({ topic, body, reply }) {
    const clientId = uuid();
    const frame = { room_id: this.roomId, topic, body, client_id: clientId };
    if (reply) frame.reply_to = reply.id;
    const pending = {
      pending: true,
      client_id: clientId,
      id: null,
      topic,
      source: body,
      author: this.me,
      reply_to: reply,
      created_at: new Date().toISOString(),
      reactions: {},
      mentions: [],
      state: this.socket.ready ? "sending" : "waiting",
      frame,
    };
    this.pending.set(clientId, pending);
    this.firstUnread = null;
    byId("divider-new")?.remove();
    byId("empty-note")?.remove();
    this.pendingList.append(this.pendingElement(pending));
    this.scrollToBottom();
    this.clearAlert();
    this.socket.post(frame);
  }

  onClick(event) {
    const link = event.target.closest("a.msg-reply");
    if (link) {
      const parent = byId(`m-${link.dataset.replyTo}`);
      if (parent) {
        event.preventDefault();
        parent.scrollIntoView({ block: "center" });
        parent.focus({ preventScroll: true });
      }
      return;
    }
    const button = event.target.closest("button[data-action]");
    if (!button || !this.scroller.contains(button)) return;
    const article = button.closest("article.msg");
    if (article.dataset.clientId) this.pendingAction(button.dataset.action, article.dataset.clientId);
    else this.messageAction(button, Number(article.dataset.id));
  }

  pendingAction(action, clientId) {
    const pending = this.pending.get(clientId);
    if (!pending) return;
    if (action === "retry") {
      pending.state = this.socket.ready ? "sending" : "waiting";
      this.redrawPending(pending);
      this.socket.post(pending.frame);
    } else if (action === "discard") {
      this.pending.delete(clientId);
      byId(`p-${clientId}`)?.remove();
      this.composer.body?.focus();
    }
  }

  /** A menu opened under a message near the bottom of the list lies below what the
   *  scroller shows (on a phone, all of it): bring it into view, to its nearest edge, so
   *  that a menu already in view does not move. */
  reveal(id, selector) {
    this.elements.get(id)?.querySelector(selector)?.scrollIntoView({ block: "nearest" });
  }

  messageAction(button, id) {
    const message = this.store.messages.get(id);
    if (!message) return;
    const action = button.dataset.action;
    if (action === "reply") this.composer.setReply(message);
    else if (action === "palette") {
      this.paletteOpen = this.paletteOpen === id ? null : id;
      this.redraw(id);
      if (this.paletteOpen) this.reveal(id, ".msg-palette");
    } else if (action === "react") {
      if (button.getAttribute("aria-disabled") === "true") return;
      const emoji = button.dataset.emoji;
      const mine = (message.reactions?.[emoji] || []).includes(this.me.id);
      this.request({ type: "react", room_id: this.roomId, message_id: id, emoji, op: mine ? "remove" : "add" }).catch(() => {});
      if (button.closest(".msg-palette")) this.closePalette(id);
    } else if (action === "moderate") {
      this.moderating = this.moderating === id ? null : id;
      this.flagging = null;
      this.redraw(id);
      if (this.moderating) this.reveal(id, ".msg-modmenu");
    } else if (action === "flag") {
      this.flagging = this.flagging === id ? null : id;
      this.moderating = null;
      this.redraw(id);
      if (this.flagging) this.elements.get(id)?.querySelector('[data-role="flag-reason"]')?.focus();
    } else if (action === "flag-cancel") this.closeMenus(id, "flag");
    else if (action === "flag-send") this.sendFlag(id, button);
    else if (action.startsWith("mod-")) this.moderate(action, message);
    else if (action === "edit") this.startEdit(id);
    else if (action === "edit-save") this.saveEdit(id, button);
    else if (action === "edit-cancel") this.stopEdit(id);
    else if (action === "delete" && window.confirm(t("js.msg.delete_confirm"))) {
      this.request({ type: "delete", room_id: this.roomId, message_id: id }).catch(() => {});
    }
  }

  closeMenus(id, opener) {
    this.moderating = null;
    this.flagging = null;
    this.redraw(id);
    this.elements.get(id)?.querySelector(`[data-action="${opener}"]`)?.focus();
  }

  sendFlag(id, button) {
    const article = this.elements.get(id);
    const reason = article?.querySelector('[data-role="flag-reason"]')?.value;
    const comment = article?.querySelector('[data-role="flag-comment"]')?.value.trim();
    if (!reason) return;
    button.disabled = true;
    const frame = { type: "message.flag", room_id: this.roomId, message_id: id, reason };
    if (comment) frame.comment = comment;
    this.request(frame).then(
      (ack) => {
        this.closeMenus(id, "flag");
        this.side.status(t(ack.duplicate ? "js.flag.already" : "js.flag.sent"));
      },
      () => {
        button.disabled = false;
      },
    );
  }

  /** An item of the "Modérer" menu; reasons are asked with the native prompt. */
  moderate(action, message) {
    const id = message.id;
    const base = { room_id: this.roomId };
    const ask = (key) => {
      const answer = window.prompt(t(key, { name: message.author.name }));
      return answer && answer.trim() ? answer.trim() : null;
    };
    let frame = null;
    if (action === "mod-hide") {
      const reason = ask("js.mod.hide_prompt");
      if (reason) frame = { ...base, type: "message.hide", message_id: id, reason };
    } else if (action === "mod-restore") frame = { ...base, type: "message.restore", message_id: id };
    else if (action === "mod-pin" || action === "mod-unpin") {
      frame = { ...base, type: action === "mod-pin" ? "message.pin" : "message.unpin", message_id: id };
    } else if (action === "mod-mute") {
      const reason = ask("js.mod.mute_prompt");
      if (reason) frame = { ...base, type: "member.mute", user_id: message.author.id, seconds: 3600, reason };
    } else if (action === "mod-remove") {
      const reason = ask("js.mod.remove_prompt");
      if (reason) frame = { ...base, type: "member.remove", user_id: message.author.id, reason };
    } else if (action === "mod-block") {
      const reason = ask("js.mod.block_prompt");
      if (reason) frame = { type: "member.block", user_id: message.author.id, reason };
    }
    if (!frame) return;
    this.request(frame).then(
      () => {
        this.closeMenus(id, "moderate");
        this.side.status(t("js.mod.done"));
      },
      () => {},
    );
  }

  /** Show a message (a pin, a flag): in the list if loaded, else say so. */
  jumpTo(id) {
    if (this.filter !== null && this.store.messages.has(id)) this.setFilter(null);
    const el = this.elements.get(id);
    if (!el) {
      this.alert(t("js.pins.not_loaded"));
      return;
    }
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  }

  closePalette(id) {
    this.paletteOpen = null;
    this.redraw(id);
    this.elements.get(id)?.querySelector('[data-action="palette"]')?.focus();
  }

  startEdit(id) {
    this.editing = id;
    this.paletteOpen = null;
    this.redraw(id, true);
    const area = this.elements.get(id)?.querySelector("textarea");
    if (area) {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    }
  }

  stopEdit(id) {
    this.editing = null;
    this.redraw(id, true);
    this.elements.get(id)?.querySelector('[data-action="edit"]')?.focus();
  }

  saveEdit(id, button) {
    const area = this.elements.get(id)?.querySelector("textarea");
    if (!area) return;
    if (!area.value.trim()) {
      this.alert(t("js.error.empty"));
      return;
    }
    if (area.value === this.store.messages.get(id)?.source) {
      this.stopEdit(id);
      return;
    }
    button.disabled = true;
    this.request({ type: "edit", room_id: this.roomId, message_id: id, body: area.value }).then(
      () => this.stopEdit(id),
      () => {
        button.disabled = false;
      },
    );
  }

  onKeydown(event) {
    const target = event.target;
    const article = target.closest?.("article.msg[data-id]");
    if (!article) return;
    const id = Number(article.dataset.id);
    if (target.dataset.role === "editor") {
      if (event.key === "Escape") {
        event.preventDefault();
        this.stopEdit(id);
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.saveEdit(id, article.querySelector('[data-action="edit-save"]'));
      }
    } else if (event.key === "Escape" && this.paletteOpen === id) {
      event.preventDefault();
      this.closePalette(id);
    } else if (event.key === "Escape" && (this.moderating === id || this.flagging === id)) {
      event.preventDefault();
      this.closeMenus(id, this.moderating === id ? "moderate" : "flag");
    }
  }

  /** Access revoked while reading: nothing more arrives; say so and stop writing. */
  removed(frame = {}) {
    this.canPost = false;
    byId("composer")?.remove();
    if (frame.reason === "excluded") {
      this.alert(t("js.removed_excluded", { reason: this.moderation.removalReason || "—" }));
    } else this.alert(t("js.removed"));
    byId("conn-status").textContent = "";
  }

  // -- messages to the member --------------------------------------------------------------
  alert(text) {
    const box = byId("chat-alert");
    box.replaceChildren(
      h("p", { text }),
      h("button", {
        type: "button",
        class: "button button-quiet button-small",
        text: t("js.close"),
        onclick: () => {
          this.clearAlert();
          (byId("composer-body") || this.scroller).focus();
        },
      }),
    );
  }

  clearAlert() {
    byId("chat-alert").replaceChildren();
  }
}

const boot = readJSON("boot");
if (boot) new ChatPage(boot).start();
