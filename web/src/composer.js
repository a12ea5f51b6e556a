// The message form: topic (with the room's topics as suggestions), text, reply, typing.
// Enter sends, Shift+Enter starts a new line; nothing is sent while an IME composes.
import { byId, h } from "./dom.js";
import { t } from "./i18n.js";
import { quote } from "./messages.js";
import { excerptOf } from "./store.js";

const TYPING_EVERY_MS = 3000;

export class Composer {
  /**
   * @param {object} options
   * @param {object} options.limits {body_bytes, topic_chars}
   * @param {string} options.defaultTopic
   * @param {(draft: {topic, body, reply}) => void} options.onSend
   * @param {(topic: string) => void} options.onTyping
   * @param {(text: string) => void} options.onInvalid
   */
  constructor({ limits, defaultTopic, onSend, onTyping, onInvalid }) {
    this.form = byId("composer");
    this.limits = limits;
    this.onSend = onSend;
    this.onTyping = onTyping;
    this.onInvalid = onInvalid;
    this.defaultTopic = defaultTopic;
    this.reply = null;
    this.lastTyping = 0;
    if (!this.form) return;
    this.topic = byId("composer-topic");
    this.body = byId("composer-body");
    this.options = byId("topic-options");
    this.preview = byId("reply-preview");
    this.previewText = byId("reply-preview-text");
    this.topic.value = defaultTopic;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.body.addEventListener("keydown", (event) => this.keydown(event));
    this.body.addEventListener("input", () => this.typed());
    byId("reply-cancel").addEventListener("click", () => {
      this.setReply(null);
      this.body.focus();
    });
  }

  get enabled() {
    return Boolean(this.form);
  }

  keydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      this.submit();
    } else if (event.key === "Escape" && this.reply) {
      event.preventDefault();
      this.setReply(null);
    }
  }

  typed() {
    const now = Date.now();
    if (this.body.value.trim() && now - this.lastTyping >= TYPING_EVERY_MS) {
      this.lastTyping = now;
      this.onTyping(this.currentTopic());
    }
  }

  currentTopic() {
    return this.topic.value.trim().replace(/\s+/g, " ");
  }

  submit() {
    const body = this.body.value;
    if (!body.trim()) {
      this.onInvalid(t("js.error.empty"));
      this.body.focus();
      return;
    }
    if (new TextEncoder().encode(body).length > this.limits.body_bytes) {
      this.onInvalid(t("js.error.too_long", { n: this.limits.body_bytes }));
      return;
    }
    const topic = this.currentTopic() || this.defaultTopic;
    if (topic.length > this.limits.topic_chars) {
      this.onInvalid(t("js.error.topic_too_long", { n: this.limits.topic_chars }));
      this.topic.focus();
      return;
    }
    this.onSend({ topic, body, reply: this.reply });
    this.body.value = "";
    this.lastTyping = 0;
    this.setReply(null);
    this.body.focus();
  }

  /** Reply to a message: its topic becomes the reply's topic; an excerpt is shown. */
  setReply(message) {
    if (!this.enabled) return;
    this.reply = message
      ? { id: message.id, author: message.author.name, excerpt: excerptOf(message.source), deleted: false }
      : null;
    this.preview.hidden = !message;
    this.previewText.textContent = message
      ? `${t("js.reply.preview", { name: message.author.name })} ${quote(this.reply.excerpt)}`
      : "";
    if (message) {
      this.topic.value = message.topic;
      this.body.focus();
    }
  }

  /** Follow the topic filter: writing while reading a topic writes in it. */
  followTopic(topic) {
    if (this.enabled && topic) this.topic.value = topic;
  }

  setTopics(names) {
    if (!this.enabled) return;
    this.options.replaceChildren(...names.map((name) => h("option", { value: name })));
  }

  renameTopic(oldName, newName) {
    if (this.enabled && this.topic.value === oldName) this.topic.value = newName;
  }
}
