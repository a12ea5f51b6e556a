// The state of one room in the browser: messages by id, topics, unread counts and the
// position in the room's event log. No DOM here: `apply(event)` returns what changed and
// chat.js redraws it. Event shapes: rooms/events.py and rooms/shapes.py.

import { shorten } from "./text.js";

export const PAGE_SIZE = 50;
const EXCERPT_CHARS = 140;

export function excerptOf(source) {
  return shorten(source, EXCERPT_CHARS);
}

export class RoomStore {
  constructor(boot) {
    this.roomId = boot.room.id;
    this.meId = boot.me.id;
    // Description, agenda, lock, slow mode, pins, announcements (GET /api/rooms/N/state).
    this.state = boot.state || { pins: [], announcements: [], me: {} };
    this.messages = new Map();
    this.topics = new Map();
    this.unread = boot.unread || { unread: 0, mentions: 0, topics: {} };
    this.load(boot.messages || [], boot.last_seq || 0);
    for (const topic of boot.topics || []) this.topics.set(topic.name, { ...topic });
  }

  /** Start over from a page of the newest messages (first load or `reset`). */
  load(messages, lastSeq) {
    this.messages.clear();
    this.lastSeq = lastSeq;
    this.complete = messages.length < PAGE_SIZE;
    this.from = messages.length ? messages[0].seq : lastSeq + 1;
    this.topicFrom = new Map();
    this.topicComplete = new Set();
    for (const message of messages) this.messages.set(message.id, message);
  }

  /** Messages in seq order; with `topic`, that topic only. Only a gap-free tail is shown. */
  visible(topic) {
    const from = this.oldestShown(topic);
    return [...this.messages.values()]
      .filter((m) => m.seq >= from && (topic === null || m.topic === topic))
      .sort((a, b) => a.seq - b.seq);
  }

  hasOlder(topic) {
    if (this.complete) return false;
    return topic === null || !this.topicComplete.has(topic);
  }

  /** The `before` position of the next history page. */
  oldestShown(topic) {
    if (topic === null) return this.from;
    return Math.min(this.from, this.topicFrom.get(topic) ?? this.from);
  }

  /** Merge an older history page (GET /api/rooms/N/messages?before=…). */
  addOlder(messages, topic) {
    for (const message of messages) {
      if (!this.messages.has(message.id)) this.messages.set(message.id, message);
    }
    const first = messages.length ? messages[0].seq : 0;
    const done = messages.length < PAGE_SIZE;
    if (topic === null) {
      this.from = done ? 0 : first;
      this.complete = done;
    } else {
      this.topicFrom.set(topic, done ? 0 : first);
      if (done) this.topicComplete.add(topic);
    }
  }

  /** The event's effect: {kind: "added"|"updated"|"topics"|"state"|"none", message?, ids?}. */
  apply(event) {
    this.lastSeq = Math.max(this.lastSeq, event.seq);
    switch (event.type) {
      case "message.posted":
        return this.posted(event.message);
      case "message.edited":
        return this.edited(event);
      case "message.deleted":
        return this.deleted(event.message_id);
      case "reaction.added":
      case "reaction.removed":
        return this.reacted(event, event.type === "reaction.added");
      case "topic.renamed":
        return this.renamed(event.old, event.new);
      case "messages.moved":
        return this.moved(event.message_ids, event.topic);
      case "message.hidden":
        return this.hidden(event.message_id);
      case "message.restored":
        return this.restored(event.message);
      default:
        return this.stateEvent(event);
    }
  }

  /** Moderation events that change the room's state rather than a message. */
  stateEvent(event) {
    const state = this.state;
    switch (event.type) {
      case "message.pinned": {
        const message = this.messages.get(event.message_id);
        state.pins = state.pins.filter((pin) => pin.message_id !== event.message_id);
        state.pins.push({
          message_id: event.message_id,
          seq: message?.seq,
          author: event.author,
          excerpt: event.excerpt,
          pinned_by: event.pinned_by,
        });
        return { kind: "state", ids: [event.message_id] };
      }
      case "message.unpinned":
        state.pins = state.pins.filter((pin) => pin.message_id !== event.message_id);
        return { kind: "state", ids: [event.message_id] };
      case "room.locked":
      case "room.unlocked":
        state.locked = event.type === "room.locked";
        return { kind: "state", announce: event.type };
      case "room.slow_mode":
        state.slow_mode_secs = event.seconds;
        return { kind: "state", announce: event.type };
      case "room.updated":
        Object.assign(state, {
          description: event.description,
          description_html: event.description_html,
          agenda: event.agenda,
          agenda_html: event.agenda_html,
        });
        return { kind: "state" };
      case "announcement.posted":
        state.announcements = [
          { ...event.announcement, acknowledged: false, ack_count: 0 },
          ...state.announcements.filter((a) => a.id !== event.announcement.id),
        ];
        return { kind: "state", announce: event.type };
      case "member.muted":
      case "member.unmuted":
        if (event.user.id !== this.meId) return { kind: "none" };
        state.me = { ...state.me, muted_until: event.type === "member.muted" ? event.until : null };
        return { kind: "state" };
      default:
        return { kind: "none" };
    }
  }

  isPinned(id) {
    return this.state.pins.some((pin) => pin.message_id === id);
  }

  hidden(messageId) {
    const message = this.messages.get(messageId);
    if (!message) return { kind: "state" };
    const wasShown = !message.deleted;
    Object.assign(message, { deleted: true, hidden: true, source: "", html: "", mentions: [] });
    const topic = this.topics.get(message.topic);
    if (topic && wasShown) topic.count = Math.max(0, topic.count - 1);
    const replies = this.repliesTo(messageId);
    for (const reply of replies) Object.assign(reply.reply_to, { excerpt: "", deleted: true });
    return { kind: "updated", ids: [messageId, ...replies.map((r) => r.id)], topics: wasShown, state: true };
  }

  restored(message) {
    const known = this.messages.get(message.id);
    if (!known) return { kind: "state" };
    const wasHidden = known.deleted;
    Object.assign(known, message);
    const topic = this.topics.get(known.topic);
    if (topic && wasHidden) topic.count += 1;
    const replies = this.repliesTo(message.id);
    for (const reply of replies) Object.assign(reply.reply_to, { excerpt: excerptOf(message.source), deleted: false });
    return { kind: "updated", ids: [message.id, ...replies.map((r) => r.id)], topics: wasHidden, state: true };
  }

  posted(message) {
    if (this.messages.has(message.id)) return { kind: "none" };
    this.messages.set(message.id, message);
    const topic = this.topics.get(message.topic) || { name: message.topic, count: 0 };
    if (!message.deleted) topic.count += 1;
    topic.last_seq = message.seq;
    this.topics.set(message.topic, topic);
    return { kind: "added", message };
  }

  edited(event) {
    const message = this.messages.get(event.message_id);
    if (!message) return { kind: "none" };
    Object.assign(message, {
      source: event.source,
      html: event.html,
      edited_at: event.edited_at,
      mentions: event.mentions || [],
    });
    const replies = this.repliesTo(message.id);
    for (const reply of replies) reply.reply_to.excerpt = excerptOf(event.source);
    return { kind: "updated", ids: [message.id, ...replies.map((r) => r.id)] };
  }

  deleted(messageId) {
    const message = this.messages.get(messageId);
    if (!message) return { kind: "topics" };
    const wasShown = !message.deleted; // a hidden message was already taken off its topic
    Object.assign(message, { deleted: true, source: "", html: "", reactions: {}, mentions: [] });
    const topic = this.topics.get(message.topic);
    if (topic && wasShown) topic.count = Math.max(0, topic.count - 1);
    const replies = this.repliesTo(messageId);
    for (const reply of replies) Object.assign(reply.reply_to, { excerpt: "", deleted: true });
    return { kind: "updated", ids: [messageId, ...replies.map((r) => r.id)], topics: wasShown };
  }

  reacted(event, add) {
    const message = this.messages.get(event.message_id);
    if (!message) return { kind: "none" };
    const reactions = { ...(message.reactions || {}) };
    const users = new Set(reactions[event.emoji] || []);
    if (add) users.add(event.user_id);
    else users.delete(event.user_id);
    if (users.size) reactions[event.emoji] = [...users];
    else delete reactions[event.emoji];
    message.reactions = reactions;
    return { kind: "updated", ids: [message.id] };
  }

  renamed(oldName, newName) {
    const ids = [];
    for (const message of this.messages.values()) {
      if (message.topic === oldName) {
        message.topic = newName;
        ids.push(message.id);
      }
    }
    this.renameKey(this.topics, oldName, newName);
    return { kind: "topics", ids, renamed: { old: oldName, new: newName } };
  }

  moved(ids, topic) {
    for (const id of ids) {
      const message = this.messages.get(id);
      if (message) message.topic = topic;
    }
    return { kind: "topics", ids };
  }

  renameKey(map, oldName, newName) {
    const entry = map.get(oldName);
    if (!entry) return;
    map.delete(oldName);
    const existing = map.get(newName);
    if (existing) existing.count += entry.count;
    else map.set(newName, { ...entry, name: newName });
  }

  repliesTo(id) {
    return [...this.messages.values()].filter((m) => m.reply_to && m.reply_to.id === id);
  }

  /** Topics, most recently active first. */
  topicList() {
    return [...this.topics.values()]
      .filter((topic) => topic.count > 0)
      .sort((a, b) => (b.last_seq || 0) - (a.last_seq || 0));
  }

  setTopics(topics) {
    this.topics = new Map(topics.map((topic) => [topic.name, { ...topic }]));
  }

  /** Count a newly arrived message of someone else as unread (until the server says otherwise). */
  countUnread(message, meId) {
    if (message.author.id === meId || message.deleted) return;
    const topics = this.unread.topics || (this.unread.topics = {});
    const entry = topics[message.topic] || (topics[message.topic] = { unread: 0, mentions: 0 });
    const mentioned = (message.mentions || []).includes(meId) ? 1 : 0;
    entry.unread += 1;
    entry.mentions += mentioned;
    this.unread.unread += 1;
    this.unread.mentions += mentioned;
  }

  /**
   * The seq of the first unread message among those loaded. Unread messages of a topic
   * are the last `topics[name].unread` messages of others in it (the server counts those
   * past the member's markers), so the earliest of them starts the unread part.
   */
  firstUnreadSeq(meId) {
    let first = null;
    for (const [name, counts] of Object.entries(this.unread.topics || {})) {
      if (!counts.unread) continue;
      const theirs = this.visible(name).filter((m) => !m.deleted && m.author.id !== meId);
      const unread = theirs.slice(-counts.unread);
      if (unread.length && (first === null || unread[0].seq < first)) first = unread[0].seq;
    }
    return first;
  }
}
