// The blocks of a poll card (polls.js patches a card block by block, by key): question
// and kind, status and participation with the running counts, the result of a closed
// poll, what the member did ("Votre vote est enregistré", a procuration given), and the
// forms of poll-forms.js. `page` is the RoomPolls panel (its state: editing, tools).
import { h } from "./dom.js";
import { t, tn } from "./i18n.js";
import { describeBallot } from "./poll-ballot.js";
import { day, fromNow, kindName, moment, optionLabel, percent, storedBallot } from "./poll-format.js";
import { ballotBlock, proxyBlock, representBlock, toolsBlock } from "./poll-forms.js";

/** Horizontal bars: a <meter> under each label and figure (no inline style: CSP). */
export function bars(entries, max) {
  return h(
    "ul",
    { class: "poll-bars" },
    entries.map((entry) =>
      h(
        "li",
        { class: "poll-bar" },
        h("span", { class: "poll-bar-label", text: entry.label }),
        h("span", { class: "poll-bar-value", text: entry.text }),
        h("meter", { min: 0, max: Math.max(entry.max ?? max, 1), value: entry.value, "aria-hidden": "true" }),
      ),
    ),
  );
}

/** "Vos procurations": those I gave or carry in this room, with "Révoquer" / "Refuser". */
export function mineNodes(page, mine) {
  return [
    h("h3", { class: "poll-mine-title", tabindex: "-1", text: t("js.poll.proxy.mine") }),
    h(
      "ul",
      { class: "plain poll-mine-list" },
      mine.map((proxy) => {
        const scope = scopeText(page, proxy);
        const given = proxy.giver.id === page.me.id;
        return h(
          "li",
          {},
          h("span", {
            text: given
              ? t("js.poll.proxy.given_to", { name: proxy.holder.name, scope })
              : t("js.poll.proxy.carried_for", { name: proxy.giver.name, scope }),
          }),
          " ",
          h("button", {
            type: "button",
            class: "button button-small",
            dataset: { pollAction: "revoke", proxyId: proxy.id },
            text: t(given ? "js.poll.proxy.revoke" : "js.poll.proxy.decline"),
          }),
        );
      }),
    ),
  ];
}

export function scopeText(page, proxy) {
  if (proxy.poll_id) {
    const poll = page.poll(proxy.poll_id);
    return poll ? t("js.poll.proxy.scope_poll", { question: poll.question }) : t("js.poll.proxy.scope_one");
  }
  return proxy.until
    ? t("js.poll.proxy.scope_until", { day: day(proxy.until) })
    : t("js.poll.proxy.scope_all");
}

/** The blocks of `poll`'s card, in order: {id, key, build()}. */
export function cardBlocks(page, poll) {
  const me = poll.me || {};
  const blocks = [headBlock(poll), stateBlock(poll)];
  if (poll.status === "closed") {
    blocks.push(resultBlock(page, poll));
    return blocks;
  }
  blocks.push(noticeBlock(page, poll));
  blocks.push({
    id: "alerts",
    key: "1",
    build: () =>
      h(
        "div",
        { class: "poll-messages" },
        h("div", { class: "poll-alert", role: "alert", dataset: { role: "alert" } }),
        h("p", { class: "poll-status", role: "status", dataset: { role: "status" } }),
      ),
  });
  if (poll.status === "open") {
    if (me.eligible && !me.gave_proxy && (!me.voted || page.editing.has(`${poll.id}:${page.me.id}`))) {
      blocks.push(ballotBlock(page, poll, page.me.id, me.voted, me.ballot));
    }
    for (const entry of me.represents || []) blocks.push(representBlock(page, poll, entry));
  }
  const canVote = poll.status === "open" ? me.eligible : page.isVoter();
  // Whoever carries a procuration cannot give theirs (no chains): no offer then.
  const carries = (me.represents || []).length > 0;
  if (canVote && !me.voted && !me.gave_proxy && !carries && page.voters.length > 1) {
    blocks.push(proxyBlock(page, poll));
  }
  if (page.data.can_create && poll.status === "open") blocks.push(toolsBlock(page, poll));
  return blocks;
}

function headBlock(poll) {
  const meta = [
    kindName(poll.kind),
    t(poll.secret ? "js.poll.secret" : "js.poll.open_ballot"),
    t("js.poll.topic", { topic: poll.topic }),
  ];
  return {
    id: "head",
    key: JSON.stringify([poll.question, ...meta]),
    build: () =>
      h(
        "div",
        { class: "poll-head" },
        h("h3", { class: "poll-question", id: `vote-${poll.id}-q`, text: poll.question }),
        h("p", { class: "poll-meta", text: meta.join(" · ") }),
      ),
  };
}

function whenText(poll) {
  if (poll.status === "closed") return t("js.poll.when.closed", { when: moment(poll.closed_at) });
  if (poll.status === "scheduled") {
    const opens = t("js.poll.when.opens", { when: moment(poll.opens_at), rel: fromNow(poll.opens_at) });
    return poll.closes_at
      ? `${opens} · ${t("js.poll.when.then_closes", { when: moment(poll.closes_at) })}`
      : opens;
  }
  if (!poll.closes_at) return t("js.poll.when.no_deadline");
  if (Date.parse(poll.closes_at) <= Date.now()) return t("js.poll.when.closing");
  return t("js.poll.when.closes", { when: moment(poll.closes_at), rel: fromNow(poll.closes_at) });
}

function stateBlock(poll) {
  const when = whenText(poll);
  const me = poll.me || {};
  const counts = poll.status === "open" ? poll.counts : null;
  let countsNote = null;
  if (poll.status === "open" && !counts) {
    const canVote = me.eligible || (me.represents || []).length > 0;
    if (poll.visibility === "after_vote" && !me.voted && canVote) {
      countsNote = t("js.poll.counts.after_vote");
    } else if (poll.visibility !== "live") countsNote = t("js.poll.counts.closed");
  } else if (counts && !Object.keys(counts).length) countsNote = t("js.poll.counts.none_kind");
  const parts = [poll.status, when, poll.participants, poll.electorate, poll.quorum, counts, countsNote];
  return {
    id: "state",
    key: JSON.stringify(parts),
    build: () => {
      const box = h(
        "div",
        { class: "poll-state" },
        h(
          "p",
          { class: "poll-when" },
          h("span", {
            class: `poll-status-tag poll-status-${poll.status}`,
            text: t(`js.poll.status.${poll.status}`),
          }),
          h("span", { class: "visually-hidden", text: " :" }),
          " ",
          when,
        ),
      );
      if (poll.status === "open") {
        const line = [tn("js.poll.participation", poll.participants, { total: poll.electorate })];
        if (poll.quorum) line.push(t("js.poll.quorum", { share: percent(poll.quorum) }));
        box.append(
          h(
            "div",
            { class: "poll-participation" },
            h("p", { class: "poll-participation-text", text: line.join(" · ") }),
            h("meter", {
              min: 0,
              max: Math.max(poll.electorate, 1),
              value: poll.participants,
              "aria-hidden": "true",
            }),
          ),
        );
      }
      if (counts && Object.keys(counts).length && !poll.participants) {
        box.append(h("p", { class: "hint", text: t("js.poll.counts.no_vote_yet") }));
      } else if (counts && Object.keys(counts).length) {
        const total = Math.max(poll.participants, 1);
        box.append(
          h("p", { class: "poll-counts-title", text: t(`js.poll.counts.title_${poll.kind}`) }),
          bars(
            Object.entries(counts).map(([key, n]) => ({
              label: optionLabel(poll, key),
              value: n,
              text: `${n} (${percent(n / total)})`,
            })),
            total,
          ),
        );
      }
      if (countsNote) box.append(h("p", { class: "hint", text: countsNote }));
      return box;
    },
  };
}

function resultBlock(page, poll) {
  const result = poll.result || {};
  return {
    id: "result",
    key: JSON.stringify(result),
    build: () =>
      h(
        "div",
        { class: "poll-result" },
        h(
          "p",
          { class: "poll-result-summary", tabindex: "-1", dataset: { focusHere: "1" } },
          h("strong", { text: result.summary_fr || "" }),
        ),
        result.chart?.length
          ? bars(
              result.chart.map((bar) => ({
                label: bar.label,
                value: bar.value,
                max: bar.max,
                text: bar.text,
              })),
              1,
            )
          : null,
        h("p", { class: "poll-result-line", text: result.participation || "" }),
        result.quorum ? h("p", { class: "poll-result-line", text: result.quorum }) : null,
        result.outcome
          ? h(
              "p",
              { class: "poll-outcome" },
              h("strong", { text: t("js.poll.outcome") }),
              " ",
              result.outcome,
            )
          : null,
        h(
          "p",
          { class: "poll-result-link" },
          h(
            "a",
            { href: `/salons/${page.roomId}/votes/${poll.id}` },
            t("js.poll.detail"),
            h("span", { class: "visually-hidden", text: ` : ${poll.question}` }),
          ),
        ),
      ),
  };
}

/** "Votre vote est enregistré", a procuration given, or why one cannot vote. */
function noticeBlock(page, poll) {
  const me = poll.me || {};
  const editing = page.editing.has(`${poll.id}:${page.me.id}`);
  const stored = poll.secret ? storedBallot(page.roomId, poll.id, page.me.id) : null;
  const ballot = poll.secret ? stored?.ballot : me.ballot;
  const gave = me.gave_proxy;
  const key = JSON.stringify([poll.status, me.eligible, me.voted, editing, gave, ballot ?? null]);
  return {
    id: "notice",
    key,
    build: () => {
      const box = h("div", { class: "poll-notice" });
      if (poll.status === "scheduled") {
        box.append(h("p", { class: "hint", text: t("js.poll.notice.scheduled") }));
        return box;
      }
      if (gave) {
        const scope = gave.poll_id
          ? t("js.poll.proxy.scope_this")
          : t("js.poll.proxy.scope_until", { day: day(gave.until) });
        box.append(
          h(
            "p",
            { class: "poll-done", tabindex: "-1", dataset: { focusHere: "1" } },
            t("js.poll.notice.gave", { name: gave.holder.name, scope }),
          ),
        );
        if (me.voted)
          box.append(h("p", { text: t("js.poll.notice.voted_for_me", { name: gave.holder.name }) }));
        if (!me.voted || !gave.poll_id) {
          box.append(
            h("button", {
              type: "button",
              class: "button button-small",
              dataset: { pollAction: "revoke", proxyId: gave.id },
              text: t("js.poll.proxy.revoke"),
            }),
          );
        }
        return box;
      }
      if (!me.eligible) {
        if (!(me.represents || []).length)
          box.append(h("p", { class: "hint", text: t("js.poll.notice.not_eligible") }));
        return box;
      }
      if (!me.voted) return box;
      box.append(
        h(
          "p",
          { class: "poll-done", tabindex: "-1", dataset: { focusHere: "1" } },
          h("span", { class: "poll-check", "aria-hidden": "true", text: "✓ " }),
          t(editing ? "js.poll.notice.changing" : "js.poll.notice.voted"),
        ),
      );
      if (ballot !== undefined && ballot !== null && !editing) {
        box.append(
          h("p", {
            class: "poll-my-ballot",
            text: t("js.poll.notice.your_ballot", { ballot: describeBallot(poll, ballot) }),
          }),
        );
      }
      if (editing) return box;
      if (!poll.secret || stored) {
        box.append(
          h("button", {
            type: "button",
            class: "button button-small",
            dataset: { pollAction: "edit", voter: page.me.id },
            text: t("js.poll.change"),
          }),
        );
      } else box.append(h("p", { class: "hint", text: t("js.poll.notice.secret_elsewhere") }));
      return box;
    },
  };
}
