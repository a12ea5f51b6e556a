// The forms of a poll card (poll-card.js): a ballot (poll-ballot.js) for oneself or for
// a member whose procuration one carries, "Donner procuration", and the copilots'
// "Clôturer…" / "Prolonger…". polls.js handles their submissions.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { BallotForm, describeBallot } from "./poll-ballot.js";
import { DeadlinePicker } from "./poll-create.js";
import { storedBallot } from "./poll-format.js";

function todayInput() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export function ballotBlock(page, poll, voterId, voted, prefill, name = null) {
  const formKey = `${poll.id}:${voterId}`;
  const editing = page.editing.has(formKey);
  const secretStored = poll.secret ? storedBallot(page.roomId, poll.id, voterId) : null;
  const start = poll.secret ? secretStored?.ballot : prefill;
  const key = JSON.stringify([poll.kind, poll.options, poll.settings, voted, editing, name]);
  return {
    id: `ballot-${voterId}`,
    key,
    build: () => {
      const prefix = `pb-${poll.id}-${voterId}`;
      const form = new BallotForm(poll, {
        prefix,
        legend: name ? t("js.poll.vote_for", { name }) : t("js.poll.your_vote"),
        prefill: voted || editing ? start : null,
        announce: (text) => page.say(poll.id, text),
      });
      page.forms.set(formKey, form);
      const submitText = name
        ? t(voted ? "js.poll.submit_change_for" : "js.poll.submit_for", { name })
        : t(voted ? "js.poll.submit_change" : "js.poll.submit");
      return h(
        "form",
        { class: "poll-vote", novalidate: true, dataset: { form: "vote", poll: poll.id, voter: voterId } },
        form.element,
        h(
          "div",
          { class: "poll-buttons" },
          h("button", { type: "submit", class: "button button-primary", text: submitText }),
          editing
            ? h("button", {
                type: "button",
                class: "button",
                dataset: { pollAction: "cancel-edit", voter: voterId },
                text: t("js.poll.cancel"),
              })
            : null,
        ),
      );
    },
  };
}

export function representBlock(page, poll, entry) {
  const voterId = entry.user.id;
  const editing = page.editing.has(`${poll.id}:${voterId}`);
  if (!entry.voted || editing)
    return ballotBlock(page, poll, voterId, entry.voted, entry.ballot, entry.user.name);
  const stored = poll.secret ? storedBallot(page.roomId, poll.id, voterId) : null;
  const ballot = poll.secret ? stored?.ballot : entry.ballot;
  return {
    id: `ballot-${voterId}`,
    key: JSON.stringify(["done", ballot ?? null]),
    build: () =>
      h(
        "div",
        { class: "poll-notice" },
        h(
          "p",
          { class: "poll-done", tabindex: "-1", dataset: { focusHere: "1" } },
          h("span", { class: "poll-check", "aria-hidden": "true", text: "✓ " }),
          t("js.poll.notice.voted_for", { name: entry.user.name }),
        ),
        ballot !== undefined && ballot !== null
          ? h("p", {
              class: "poll-my-ballot",
              text: t("js.poll.notice.their_ballot", { ballot: describeBallot(poll, ballot) }),
            })
          : null,
        !poll.secret || stored
          ? h("button", {
              type: "button",
              class: "button button-small",
              dataset: { pollAction: "edit", voter: voterId },
              text: t("js.poll.change_for", { name: entry.user.name }),
            })
          : null,
      ),
  };
}

export function proxyBlock(page, poll) {
  const others = page.voters.filter((voter) => voter.id !== page.me.id);
  return {
    id: "proxy",
    key: JSON.stringify(others.map((voter) => voter.id)),
    build: () => {
      const prefix = `px-${poll.id}`;
      const holder = h(
        "select",
        { id: `${prefix}-holder`, name: "holder", required: true },
        h("option", { value: "", text: t("js.poll.proxy.choose") }),
        others.map((voter) => h("option", { value: voter.id, text: voter.name })),
      );
      const until = h("input", {
        type: "date",
        id: `${prefix}-until`,
        name: "until",
        min: todayInput(),
        value: todayInput(),
      });
      const scope = (value, text, checked) =>
        h(
          "label",
          { class: "choice", for: `${prefix}-scope-${value}` },
          h("input", { type: "radio", name: "scope", id: `${prefix}-scope-${value}`, value, checked }),
          h("span", { text }),
        );
      return h(
        "details",
        { class: "poll-proxy" },
        h("summary", { text: t("js.poll.proxy.give") }),
        h(
          "form",
          { class: "poll-proxy-form", novalidate: true, dataset: { form: "proxy", poll: poll.id } },
          h("p", { class: "field-hint", text: t("js.poll.proxy.explain") }),
          h(
            "div",
            { class: "poll-field" },
            h("label", { for: holder.id, text: t("js.poll.proxy.holder") }),
            holder,
          ),
          h(
            "fieldset",
            { class: "poll-field" },
            h("legend", { text: t("js.poll.proxy.scope") }),
            scope("poll", t("js.poll.proxy.scope_this_poll"), true),
            scope("until", t("js.poll.proxy.scope_period"), false),
            h(
              "div",
              { class: "poll-field poll-until", hidden: true },
              h("label", { for: until.id, text: t("js.poll.proxy.until") }),
              until,
            ),
          ),
          h(
            "div",
            { class: "poll-buttons" },
            h("button", { type: "submit", class: "button button-small", text: t("js.poll.proxy.submit") }),
          ),
        ),
      );
    },
  };
}

export function toolsBlock(page, poll) {
  const open = page.tool.get(poll.id) || null;
  return {
    id: "tools",
    key: JSON.stringify([open, poll.closes_at]),
    build: () => {
      const toggle = (tool, text) =>
        h("button", {
          type: "button",
          class: "button button-small",
          "aria-expanded": open === tool ? "true" : "false",
          dataset: { pollAction: "tool", tool },
          text,
        });
      const box = h(
        "div",
        { class: "poll-tools" },
        h(
          "div",
          { class: "poll-buttons" },
          toggle("close", t("js.poll.tools.close")),
          toggle("extend", poll.closes_at ? t("js.poll.tools.extend") : t("js.poll.tools.set_deadline")),
        ),
      );
      const cancel = h("button", {
        type: "button",
        class: "button",
        dataset: { pollAction: "tool", tool: "" },
        text: t("js.poll.cancel"),
      });
      if (open === "close") {
        const id = `pc-${poll.id}-outcome`;
        box.append(
          h(
            "form",
            { class: "poll-tool-form", novalidate: true, dataset: { form: "close", poll: poll.id } },
            h("label", { for: id, text: t("js.poll.tools.outcome") }),
            h("p", { class: "field-hint", id: `${id}-hint`, text: t("js.poll.tools.outcome_hint") }),
            h("textarea", {
              id,
              rows: 2,
              maxlength: 2000,
              "aria-describedby": `${id}-hint`,
              dataset: { focusHere: "1" },
            }),
            h(
              "div",
              { class: "poll-buttons" },
              h("button", {
                type: "submit",
                class: "button button-primary button-small",
                text: t("js.poll.tools.close_now"),
              }),
              cancel,
            ),
          ),
        );
      } else if (open === "extend") {
        const picker = new DeadlinePicker({
          prefix: `pe-${poll.id}`,
          label: t("js.poll.tools.new_deadline"),
          base: poll.closes_at,
        });
        picker.select.dataset.focusHere = "1";
        page.extenders = page.extenders || new Map();
        page.extenders.set(poll.id, picker);
        box.append(
          h(
            "form",
            { class: "poll-tool-form", novalidate: true, dataset: { form: "extend", poll: poll.id } },
            picker.element,
            h(
              "div",
              { class: "poll-buttons" },
              h("button", {
                type: "submit",
                class: "button button-primary button-small",
                text: t("js.poll.tools.extend_now"),
              }),
              cancel,
            ),
          ),
        );
      }
      return box;
    },
  };
}
