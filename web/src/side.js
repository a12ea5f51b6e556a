// Around the message list: the topic filter, who is online, who is typing, and a polite
// status line for screen readers.
import { byId, h } from "./dom.js";
import { t } from "./i18n.js";
import { badgeNodes } from "./unread.js";

const TYPING_SHOW_MS = 5000;

export class Side {
  constructor({ me, canManageTopics, onFilter, onRename }) {
    this.me = me;
    this.canManageTopics = canManageTopics;
    this.onRename = onRename;
    this.list = byId("topic-list");
    this.tools = byId("topic-tools");
    this.typers = new Map(); // user id -> {name, until}
    this.typingLine = byId("typing");
    this.announcer = byId("chat-status");
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("button.topic-button");
      if (button) onFilter(button.dataset.all ? null : button.dataset.topic);
    });
    const presence = byId("presence");
    if (presence && window.matchMedia("(max-width: 48rem)").matches) presence.open = false;
    setInterval(() => this.renderTyping(), 1000);
  }

  setTopics(topics, unread, filter) {
    const focused = this.list.contains(document.activeElement)
      ? document.activeElement.dataset.focusKey
      : null;
    const items = [this.button(null, unread.unread, unread.mentions, filter)];
    for (const topic of topics) {
      const counts = (unread.topics || {})[topic.name] || {};
      items.push(this.button(topic.name, counts.unread || 0, counts.mentions || 0, filter));
    }
    this.list.replaceChildren(...items);
    if (focused) {
      const again = [...this.list.querySelectorAll("button")].find((b) => b.dataset.focusKey === focused);
      again?.focus();
    }
    this.renderTools(filter);
  }

  button(name, unread, mentions, filter) {
    const attrs = {
      type: "button",
      class: "topic-button",
      "aria-pressed": filter === name ? "true" : "false",
      dataset: { focusKey: `t:${name ?? ""}`, topic: name ?? "" },
    };
    if (name === null) attrs.dataset.all = "1";
    return h(
      "li",
      {},
      h(
        "button",
        attrs,
        h("span", { class: "topic-name", text: name ?? t("js.topic.all") }),
        unread ? h("span", { class: "topic-meta" }, badgeNodes(unread, mentions, ", ")) : null,
      ),
    );
  }

  renderTools(filter) {
    if (!this.tools) return;
    if (!this.canManageTopics || filter === null) {
      this.tools.replaceChildren();
      return;
    }
    this.tools.replaceChildren(
      h("button", {
        type: "button",
        class: "button button-quiet button-small",
        text: t("js.topic.rename"),
        onclick: () => this.onRename(filter),
      }),
    );
  }

  setPresence(users) {
    const list = byId("presence-list");
    if (!list) return;
    list.replaceChildren(
      ...users.map((user) =>
        h(
          "li",
          {},
          user.name,
          user.id === this.me.id ? h("span", { class: "presence-you", text: ` ${t("js.presence.you")}` }) : null,
        ),
      ),
    );
    byId("presence-title").textContent = t("js.presence.title", { n: users.length });
  }

  typing(user, topic) {
    this.typers.set(user.id, { name: user.name, topic, until: Date.now() + TYPING_SHOW_MS });
    this.renderTyping();
  }

  stopTyping(userId) {
    if (this.typers.delete(userId)) this.renderTyping();
  }

  renderTyping() {
    const now = Date.now();
    for (const [id, typer] of this.typers) if (typer.until <= now) this.typers.delete(id);
    const names = [...this.typers.values()].map((typer) => typer.name);
    let text = "";
    if (names.length === 1) text = t("js.typing.one", { a: names[0] });
    else if (names.length === 2) text = t("js.typing.two", { a: names[0], b: names[1] });
    else if (names.length > 2) text = t("js.typing.many", { n: names.length });
    if (this.typingLine.textContent !== text) this.typingLine.textContent = text;
  }

  /** A short sentence for screen readers (filter changed, topic renamed…). */
  status(text) {
    this.announcer.textContent = text;
  }
}
