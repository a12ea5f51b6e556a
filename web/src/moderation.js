// The room's state and its moderation, in the room page: description, agenda, pins, the
// lock / slow mode / mute status line, announcements to acknowledge; for moderators the
// tools panel (lock, slow mode, description, announcement) and the live queue of flags.
// Frames: docs/protocol.md (room events change `store.state`; flag.raised,
// flag.resolved, announcement.acknowledged and moderation.notice come on the member's
// own channel). Rendered HTML (description, agenda, announcements) is the server's
// sanitised `*_html`, inserted as is like message bodies; everything else is text.
import { byId, h } from "./dom.js";
import { formatFull } from "./dates.js";
import { t, tn } from "./i18n.js";
import { quote } from "./messages.js";

async function getJSON(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

export class RoomModeration {
  /**
   * @param {object} options
   * @param {number} options.roomId
   * @param {object} options.store RoomStore (its `state` is the room's state)
   * @param {object} options.me {id, name}
   * @param {boolean} options.canModerate
   * @param {(frame: object) => Promise<object>} options.request a frame answered by ack
   * @param {(text: string) => void} options.alert
   * @param {(text: string) => void} options.status polite announcement
   * @param {(id: number) => void} options.onJump show a message of the room
   */
  constructor({ roomId, store, me, canModerate, request, alert, status, onJump }) {
    Object.assign(this, { roomId, store, me, canModerate, request, alert, status, onJump });
    this.queue = new Map(); // message id -> {message, flags}
    this.removalReason = null;
  }

  get state() {
    return this.store.state;
  }

  start() {
    const info = byId("room-info");
    if (info && window.matchMedia("(max-width: 48rem)").matches) info.open = false;
    byId("pin-list")?.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-message-id]");
      if (button) this.onJump(Number(button.dataset.messageId));
    });
    byId("announcements")?.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-announcement-id]");
      if (button) this.acknowledge(Number(button.dataset.announcementId), button);
    });
    if (this.canModerate) this.bindTools();
    this.render();
    if (this.canModerate) this.loadQueue();
  }

  // -- rendering ---------------------------------------------------------------------------
  render() {
    this.renderDescription();
    this.renderPins();
    this.renderStatus();
    this.renderAnnouncements();
    if (this.canModerate) this.renderTools();
  }

  renderDescription() {
    const state = this.state;
    const description = byId("room-description");
    if (description) {
      if (state.description_html) description.innerHTML = state.description_html; // server-sanitised
      else description.replaceChildren(h("p", { class: "hint", text: t("js.room.no_description") }));
    }
    const box = byId("room-agenda-box");
    if (box) {
      box.hidden = !state.agenda_html;
      byId("room-agenda").innerHTML = state.agenda_html || ""; // server-sanitised
    }
  }

  renderPins() {
    const list = byId("pin-list");
    if (!list) return;
    // A pinned message hidden or deleted since the page loaded leaves the list.
    const pins = (this.state.pins || []).filter((pin) => !this.store.messages.get(pin.message_id)?.deleted);
    if (!pins.length) {
      list.replaceChildren(h("li", { class: "hint", text: t("js.pins.none") }));
      return;
    }
    list.replaceChildren(
      ...pins.map((pin) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "pin-button", dataset: { messageId: pin.message_id } },
            h("span", { class: "pin-author", text: pin.author?.name || "" }),
            " ",
            pin.excerpt ? quote(pin.excerpt) : t("js.msg.hidden"),
          ),
        ),
      ),
    );
  }

  /** One line saying what limits writing here right now. */
  renderStatus() {
    const el = byId("room-status");
    if (!el) return;
    const state = this.state;
    const me = state.me || {};
    const lines = [];
    if (me.blocked) lines.push(t("js.state.blocked"));
    if (state.locked) lines.push(t(this.canModerate ? "js.state.locked_moderator" : "js.state.locked"));
    const until = me.muted_until && Date.parse(me.muted_until);
    if (until && until > Date.now()) {
      lines.push(t("js.state.muted", { when: formatFull(me.muted_until) }));
      clearTimeout(this.muteTimer);
      this.muteTimer = setTimeout(() => this.renderStatus(), Math.min(until - Date.now() + 500, 2 ** 31 - 1));
    }
    if (state.slow_mode_secs && !this.canModerate) {
      lines.push(t("js.state.slow_mode", { s: slowText(state.slow_mode_secs) }));
    }
    el.textContent = lines.join(" ");
    el.classList.toggle("is-active", lines.length > 0);
  }

  renderAnnouncements() {
    const box = byId("announcements");
    if (!box) return;
    const all = this.state.announcements || [];
    // Members see what they have not acknowledged; moderators also the latest ones' counts.
    const shown = this.canModerate ? all.slice(0, 3) : all.filter((a) => !a.acknowledged).slice(0, 3);
    box.hidden = !shown.length;
    box.replaceChildren(
      ...shown.map((a) => {
        const body = h("div", { class: "announcement-body rendered" });
        body.innerHTML = a.html; // server-sanitised
        const foot = h("div", { class: "announcement-foot" });
        if (a.acknowledged) foot.append(h("span", { class: "announcement-done", text: t("js.announcement.done") }));
        else if (this.state.me?.can_acknowledge) {
          foot.append(
            h("button", {
              type: "button",
              class: "button button-primary button-small",
              dataset: { announcementId: a.id },
              text: t("js.announcement.ack"),
            }),
          );
        }
        if (this.canModerate && a.ack_count !== undefined) {
          foot.append(h("span", { class: "announcement-count", text: tn("js.announcement.count", a.ack_count) }));
        }
        return h(
          "article",
          { class: "announcement", "aria-labelledby": `announcement-${a.id}` },
          h("h3", {
            class: "announcement-title",
            id: `announcement-${a.id}`,
            text: t("js.announcement.title", { name: a.author.name, when: formatFull(a.created_at) }),
          }),
          body,
          foot,
        );
      }),
    );
  }

  async acknowledge(id, button) {
    button.disabled = true;
    try {
      await this.request({ type: "announcement.ack", room_id: this.roomId, announcement_id: id });
      this.markAcknowledged(id);
      this.status(t("js.announcement.thanks"));
    } catch {
      button.disabled = false;
    }
  }

  markAcknowledged(id, count) {
    const announcement = (this.state.announcements || []).find((a) => a.id === id);
    if (!announcement) return;
    announcement.acknowledged = true;
    if (count !== undefined) announcement.ack_count = count;
    this.renderAnnouncements();
  }

  // -- moderator tools ---------------------------------------------------------------------
  bindTools() {
    byId("mod-lock").addEventListener("click", () => {
      const locked = this.state.locked;
      if (!locked) {
        const reason = window.prompt(t("js.mod.lock_prompt"));
        if (reason === null) return;
        this.send({ type: "room.lock", room_id: this.roomId, reason: reason.trim() || undefined });
      } else this.send({ type: "room.unlock", room_id: this.roomId });
    });
    byId("mod-slow").addEventListener("change", (event) => {
      this.send({ type: "room.slow_mode", room_id: this.roomId, seconds: Number(event.target.value) });
    });
    byId("mod-describe").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send({
        type: "room.update",
        room_id: this.roomId,
        description: byId("mod-description").value,
        agenda: byId("mod-agenda").value,
      }).then(() => this.status(t("js.mod.saved")));
    });
    byId("mod-announce").addEventListener("submit", (event) => {
      event.preventDefault();
      const area = byId("mod-announcement");
      if (!area.value.trim()) return;
      this.send({ type: "announcement.post", room_id: this.roomId, body: area.value }).then(() => {
        area.value = "";
        this.status(t("js.mod.announced"));
      });
    });
    byId("flag-queue").addEventListener("click", (event) => this.onQueueClick(event));
  }

  send(frame) {
    return this.request(frame).catch(() => {
      this.renderTools(); // put the controls back as the state says
      throw new Error("refused");
    });
  }

  renderTools() {
    const state = this.state;
    const lock = byId("mod-lock");
    lock.textContent = t(state.locked ? "js.mod.unlock" : "js.mod.lock");
    lock.setAttribute("aria-pressed", state.locked ? "true" : "false");
    const slow = byId("mod-slow");
    const value = String(state.slow_mode_secs || 0);
    if (![...slow.options].some((o) => o.value === value)) {
      slow.append(h("option", { value, text: slowText(Number(value)) }));
    }
    slow.value = value;
    for (const [id, key] of [["mod-description", "description"], ["mod-agenda", "agenda"]]) {
      const area = byId(id);
      if (document.activeElement !== area) area.value = state[key] || "";
    }
  }

  // -- the flag queue ----------------------------------------------------------------------
  async loadQueue() {
    try {
      const report = await getJSON(`/api/rooms/${this.roomId}/moderation`);
      this.queue = new Map(report.flags.map((entry) => [entry.message.id, entry]));
      this.renderQueue();
    } catch {
      // The live frames still fill the queue; the moderation page has it all.
    }
  }

  renderQueue() {
    const list = byId("flag-queue");
    const count = byId("flag-count");
    if (!list) return;
    count.hidden = !this.queue.size;
    count.textContent = String(this.queue.size);
    count.setAttribute("aria-label", tn("js.flags.count", this.queue.size));
    if (!this.queue.size) {
      list.replaceChildren(h("li", { class: "hint", text: t("js.flags.none") }));
      return;
    }
    list.replaceChildren(
      ...[...this.queue.values()].map((entry) => {
        const message = entry.message;
        const reasons = {};
        for (const flag of entry.flags) reasons[flag.reason] = (reasons[flag.reason] || 0) + 1;
        const summary = Object.entries(reasons)
          .map(([reason, n]) => `${t(`js.flag.reason.${reason}`)} (${n})`)
          .join(", ");
        const button = (action, text) =>
          h("button", { type: "button", class: "button button-small", dataset: { action, messageId: message.id }, text });
        return h(
          "li",
          { class: "flag-item" },
          h("p", { class: "flag-what" }, h("strong", { text: message.author?.name || "" }), " ", quote(message.source || message.excerpt || "")),
          h("p", { class: "flag-why", text: summary }),
          message.pending_review ? h("p", { class: "flag-state", text: t("js.flags.pending") }) : null,
          h(
            "div",
            { class: "flag-buttons" },
            button("queue-show", t("js.flags.show")),
            button("queue-hide", message.pending_review ? t("js.flags.confirm") : t("js.mod.hide")),
            button("queue-keep", t("js.flags.keep")),
          ),
        );
      }),
    );
  }

  onQueueClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = Number(button.dataset.messageId);
    if (button.dataset.action === "queue-show") this.onJump(id);
    else if (button.dataset.action === "queue-hide") this.hide(id);
    else if (button.dataset.action === "queue-keep") {
      this.send({ type: "flags.dismiss", room_id: this.roomId, message_id: id }).catch(() => {});
    }
  }

  hide(id) {
    const reason = window.prompt(t("js.mod.hide_prompt"));
    if (!reason || !reason.trim()) return;
    this.send({ type: "message.hide", room_id: this.roomId, message_id: id, reason: reason.trim() }).catch(() => {});
  }

  // -- frames on the member's own channel ---------------------------------------------------
  onUserFrame(frame) {
    switch (frame.type) {
      case "flag.raised": {
        const entry = this.queue.get(frame.message.id) || {
          message: { ...frame.message, source: frame.message.excerpt },
          flags: [],
        };
        entry.flags.push(frame.flag);
        entry.message.pending_review = entry.message.pending_review || frame.hidden;
        entry.message.hidden = entry.message.hidden || frame.hidden;
        this.queue.set(frame.message.id, entry);
        this.renderQueue();
        this.status(t("js.flags.new", { name: frame.message.author?.name || "" }));
        break;
      }
      case "flag.resolved":
        this.queue.delete(frame.message_id);
        this.renderQueue();
        break;
      case "announcement.acknowledged":
        if (frame.user.id === this.me.id) this.markAcknowledged(frame.announcement_id, frame.count);
        else if (this.canModerate) {
          const a = (this.state.announcements || []).find((x) => x.id === frame.announcement_id);
          if (a) {
            a.ack_count = frame.count;
            this.renderAnnouncements();
          }
        }
        break;
      case "moderation.notice":
        this.onNotice(frame);
        break;
      default:
    }
  }

  onNotice(frame) {
    const me = (this.state.me = this.state.me || {});
    switch (frame.kind) {
      case "message_hidden":
        this.alert(
          frame.pending_review
            ? t("js.notice.hidden_flags", { text: quote(frame.excerpt) })
            : t("js.notice.hidden", { text: quote(frame.excerpt), reason: frame.reason }),
        );
        break;
      case "message_restored":
        this.status(t("js.notice.restored"));
        break;
      case "muted":
        me.muted_until = frame.until;
        this.alert(t("js.notice.muted", { when: formatFull(frame.until), reason: frame.reason }));
        break;
      case "unmuted":
        me.muted_until = null;
        this.status(t("js.notice.unmuted"));
        break;
      case "removed":
        this.removalReason = frame.reason;
        break;
      case "readmitted":
        this.alert(t("js.notice.readmitted"));
        break;
      case "blocked":
        me.blocked = true;
        this.alert(t("js.notice.blocked", { reason: frame.reason }));
        break;
      case "unblocked":
        me.blocked = false;
        this.status(t("js.notice.unblocked"));
        break;
      default:
    }
    this.renderStatus();
  }

  /** After `reset`: the state may have moved too. */
  async reload() {
    try {
      this.store.state = await getJSON(`/api/rooms/${this.roomId}/state`);
      this.render();
      if (this.canModerate) await this.loadQueue();
    } catch {
      // Kept as it was; the next event updates it.
    }
  }
}

function slowText(seconds) {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
