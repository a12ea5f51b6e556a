// How one message looks. Everything is built with text nodes, except the body of a
// confirmed message: `message.html` is rendered and sanitised by the server
// (documents/rendering.py: no raw HTML, http(s)/mailto links only, nh3 allow-list), and
// it is the ONLY string inserted as HTML.
import { formatFull, formatWhen } from "./dates.js";
import { h } from "./dom.js";
import { locale, t, tn } from "./i18n.js";

export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "👀", "✅"];

export function quote(text) {
  return locale === "fr" ? `« ${text} »` : `“${text}”`;
}

/**
 * @param {object} message a message shape (rooms/shapes.py) or a pending one
 *   ({pending: true, client_id, state, reason, ...}).
 * @param {object} view {me, canPost, showTopic, nameOf(id), paletteOpen, editing,
 *   canModerate, canBlock (assembly-wide), canFlag, pinned, moderating (menu open),
 *   flagging (form open), flagReasons}
 */
export function renderMessage(message, view) {
  const mine = message.author.id === view.me.id;
  const mentionsMe = !message.deleted && (message.mentions || []).includes(view.me.id);
  const classes = ["msg"];
  if (mine) classes.push("msg-mine");
  if (mentionsMe) classes.push("msg-mentions-me");
  if (message.deleted) classes.push("msg-deleted");
  if (message.hidden) classes.push("msg-hidden");
  if (view.pinned) classes.push("msg-pinned");
  if (message.pending) classes.push("msg-pending");
  const el = h("article", {
    class: classes.join(" "),
    id: message.pending ? `p-${message.client_id}` : `m-${message.id}`,
    tabindex: "-1",
    dataset: message.pending
      ? { clientId: message.client_id }
      : { id: message.id, seq: message.seq },
  });
  el.append(renderHead(message, view, mentionsMe));
  if (message.reply_to) el.append(renderReply(message.reply_to));
  el.append(view.editing ? renderEditor(message) : renderBody(message, view));
  const footer = renderFooter(message, view, mine);
  if (footer) el.append(footer);
  if (view.paletteOpen && !message.deleted && !message.pending) el.append(renderPalette(message, view));
  if (view.moderating && !message.pending) el.append(renderModMenu(message, view, mine));
  if (view.flagging && !message.deleted && !message.pending) el.append(renderFlagForm(view));
  return el;
}

function renderHead(message, view, mentionsMe) {
  const head = h("div", { class: "msg-head" }, h("span", { class: "msg-author", text: message.author.name }));
  if (view.showTopic) {
    head.append(
      h("span", { class: "msg-topic" }, h("span", { class: "visually-hidden", text: `${t("js.msg.topic")} ` }), message.topic),
    );
  }
  if (message.created_at) {
    head.append(
      h("time", {
        class: "msg-time",
        datetime: message.created_at,
        title: formatFull(message.created_at),
        text: formatWhen(message.created_at),
      }),
    );
  }
  if (message.edited_at && !message.deleted) {
    head.append(
      h("span", {
        class: "msg-edited",
        title: t("js.msg.edited_at", { when: formatWhen(message.edited_at) }),
        text: t("js.msg.edited"),
      }),
    );
  }
  if (view.pinned && !message.deleted) head.append(h("span", { class: "msg-pin", text: t("js.msg.pinned") }));
  if (mentionsMe) head.append(h("span", { class: "visually-hidden", text: t("js.msg.mentions_you") }));
  if (message.pending) {
    const failed = message.state === "failed";
    const text = failed
      ? t("js.msg.failed", { reason: message.reason || t("js.error.generic") })
      : t(message.state === "waiting" ? "js.msg.waiting" : "js.msg.pending");
    head.append(h("span", { class: failed ? "msg-state msg-state-failed" : "msg-state", text }));
  }
  return head;
}

function renderReply(reply) {
  return h(
    "a",
    { class: "msg-reply", href: `#m-${reply.id}`, dataset: { replyTo: reply.id } },
    h("span", { class: "msg-reply-author", text: t("js.msg.in_reply", { name: reply.author }) }),
    " ",
    reply.deleted ? t("js.msg.parent_deleted") : quote(reply.excerpt),
  );
}

function renderBody(message, view) {
  const body = h("div", { class: "msg-body" });
  if (message.hidden) {
    body.textContent = t("js.msg.hidden");
  } else if (message.deleted) {
    body.textContent = t("js.msg.deleted");
  } else if (message.pending) {
    body.append(h("p", { class: "msg-text", text: message.source }));
  } else {
    body.innerHTML = message.html; // server-sanitised (see the top of this file)
    for (const mention of body.querySelectorAll(".mention[data-user-id]")) {
      if (Number(mention.dataset.userId) === view.me.id) mention.classList.add("mention-me");
    }
  }
  return body;
}

function renderEditor(message) {
  const area = h("textarea", {
    rows: Math.min(8, Math.max(2, message.source.split("\n").length)),
    "aria-label": t("js.msg.edit_field"),
    dataset: { focusKey: "editor", role: "editor" },
  });
  area.value = message.source;
  return h(
    "div",
    { class: "msg-editor" },
    area,
    h(
      "div",
      { class: "msg-editor-buttons" },
      h("button", {
        type: "button",
        class: "button button-primary button-small",
        dataset: { action: "edit-save", focusKey: "edit-save" },
        text: t("js.msg.save"),
      }),
      h("button", {
        type: "button",
        class: "button button-small",
        dataset: { action: "edit-cancel", focusKey: "edit-cancel" },
        text: t("js.msg.cancel"),
      }),
    ),
  );
}

function reactionLabel(emoji, users, view) {
  const names = users.map((id) => (id === view.me.id ? t("js.msg.you") : view.nameOf(id))).join(", ");
  return { names, label: tn("js.reaction.label", users.length, { emoji, names }) };
}

function renderReactions(message, view) {
  const group = h("div", { class: "msg-reactions", role: "group", "aria-label": t("js.reactions") });
  for (const [emoji, users] of Object.entries(message.reactions || {})) {
    if (!users.length) continue;
    const { names, label } = reactionLabel(emoji, users, view);
    group.append(
      h(
        "button",
        {
          type: "button",
          class: "reaction",
          "aria-pressed": users.includes(view.me.id) ? "true" : "false",
          "aria-label": label,
          "aria-disabled": view.canPost ? null : "true",
          title: names,
          dataset: { action: "react", emoji, focusKey: `r:${emoji}` },
        },
        h("span", { "aria-hidden": "true", text: emoji }),
        h("span", { class: "reaction-count", text: String(users.length) }),
      ),
    );
  }
  return group;
}

function action(name, text, label, extra = {}) {
  return h("button", {
    type: "button",
    class: "msg-action",
    "aria-label": label,
    dataset: { action: name, focusKey: `a:${name}` },
    text,
    ...extra,
  });
}

function renderFooter(message, view, mine) {
  if (message.deleted) {
    // Moderators may restore a hidden message; nothing else acts on a tombstone.
    if (!(message.hidden && view.canModerate)) return null;
    return h("div", { class: "msg-footer" }, h("div", { class: "msg-actions" }, moderateButton(message, view)));
  }
  const footer = h("div", { class: "msg-footer" });
  if (!message.pending) footer.append(renderReactions(message, view));
  const actions = h("div", { class: "msg-actions" });
  const name = message.author.name;
  if (message.pending) {
    if (message.state === "failed") {
      actions.append(action("retry", t("js.msg.retry"), null), action("discard", t("js.msg.discard"), null));
    }
  } else if (view.canPost && !view.editing) {
    actions.append(
      action("reply", t("js.msg.reply"), t("js.msg.reply_label", { name })),
      action("palette", t("js.msg.react"), t("js.msg.react_label", { name }), {
        "aria-expanded": view.paletteOpen ? "true" : "false",
      }),
    );
    if (mine) {
      actions.append(
        action("edit", t("js.msg.edit"), t("js.msg.edit_label")),
        action("delete", t("js.msg.delete"), t("js.msg.delete_label")),
      );
    }
  }
  if (!message.pending && !view.editing) {
    if (view.canFlag && !mine) {
      actions.append(
        action("flag", t("js.msg.flag"), t("js.msg.flag_label", { name }), {
          "aria-expanded": view.flagging ? "true" : "false",
        }),
      );
    }
    if (view.canModerate) actions.append(moderateButton(message, view));
  }
  if (actions.childElementCount) footer.append(actions);
  return footer.childElementCount ? footer : null;
}

function renderPalette(message, view) {
  const palette = h("div", {
    class: "msg-palette",
    role: "group",
    "aria-label": t("js.reaction.palette"),
  });
  for (const emoji of QUICK_EMOJI) {
    const users = (message.reactions || {})[emoji] || [];
    palette.append(
      h("button", {
        type: "button",
        class: "reaction",
        "aria-pressed": users.includes(view.me.id) ? "true" : "false",
        dataset: { action: "react", emoji, focusKey: `p:${emoji}` },
        text: emoji,
      }),
    );
  }
  return palette;
}

export function renderDivider() {
  return h("div", { class: "divider-new", id: "divider-new", role: "separator", text: t("js.divider.new") });
}

function moderateButton(message, view) {
  return action("moderate", t("js.mod.menu"), t("js.mod.menu_label", { name: message.author.name }), {
    "aria-expanded": view.moderating ? "true" : "false",
  });
}

/** The "Modérer" menu of a message (moderators only): a group of plain buttons. */
function renderModMenu(message, view, mine) {
  const menu = h("div", { class: "msg-modmenu", role: "group", "aria-label": t("js.mod.menu_label", { name: message.author.name }) });
  const item = (name, text) =>
    h("button", { type: "button", class: "button button-small", dataset: { action: name, focusKey: `m:${name}` }, text });
  if (message.hidden) {
    menu.append(item("mod-restore", t("js.mod.restore")));
    return menu;
  }
  menu.append(item("mod-hide", t("js.mod.hide")));
  menu.append(view.pinned ? item("mod-unpin", t("js.mod.unpin")) : item("mod-pin", t("js.mod.pin")));
  if (!mine && message.author.id) {
    menu.append(item("mod-mute", t("js.mod.mute")), item("mod-remove", t("js.mod.remove")));
    if (view.canBlock) menu.append(item("mod-block", t("js.mod.block")));
  }
  return menu;
}

/** "Signaler": a reason (required) and an optional comment, sent to the moderators. */
function renderFlagForm(view) {
  const select = h(
    "select",
    { id: "flag-reason", dataset: { focusKey: "flag-reason", role: "flag-reason" } },
    ...view.flagReasons.map((reason) => h("option", { value: reason, text: t(`js.flag.reason.${reason}`) })),
  );
  const comment = h("input", {
    type: "text",
    id: "flag-comment",
    maxlength: "500",
    dataset: { focusKey: "flag-comment", role: "flag-comment" },
  });
  return h(
    "div",
    { class: "msg-flagform", role: "group", "aria-label": t("js.flag.title") },
    h("label", { for: "flag-reason", text: t("js.flag.reason") }),
    select,
    h("label", { for: "flag-comment", text: t("js.flag.comment") }),
    comment,
    h(
      "div",
      { class: "msg-editor-buttons" },
      h("button", {
        type: "button",
        class: "button button-primary button-small",
        dataset: { action: "flag-send", focusKey: "flag-send" },
        text: t("js.flag.send"),
      }),
      h("button", {
        type: "button",
        class: "button button-small",
        dataset: { action: "flag-cancel", focusKey: "flag-cancel" },
        text: t("js.msg.cancel"),
      }),
    ),
  );
}
