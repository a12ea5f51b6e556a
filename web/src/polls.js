// The room's votes, in the room page: a panel above the messages ("Votes en cours (2)")
// with one card per poll (id "vote-N", the target of reminder links), the ballot forms,
// procurations, and for copilots "Nouveau vote", "Clôturer…", "Prolonger…".
//
// Data: GET /api/rooms/N/polls (open and scheduled polls, the latest closed ones, the
// proxies in force). Room events (poll.*, proxy.*) reach `onEvent` through chat.js's
// seq-ordered event log; most of them just fetch the list again (debounced). A card is
// patched block by block: a ballot being filled in is never redrawn under the voter's
// fingers unless what it depends on changed.
import { byId, h } from "./dom.js";
import { t, tn } from "./i18n.js";
import { closePoll, extendPoll, giveProxy, revokeProxy, vote } from "./poll-actions.js";
import { cardBlocks, mineNodes } from "./poll-card.js";
import { PollCreator } from "./poll-create.js";
import { forgetBallots, moment } from "./poll-format.js";

const REFRESH_DELAY_MS = 300;
const TICK_MS = 60_000;
export const POLL_EVENTS = new Set([
  "poll.created",
  "poll.opened",
  "poll.voted",
  "poll.closed",
  "poll.extended",
  "poll.reminder",
  "proxy.given",
  "proxy.revoked",
]);

async function getJSON(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

export class RoomPolls {
  /**
   * @param {object} options
   * @param {number} options.roomId
   * @param {object} options.me {id, name}
   * @param {Array<{id, name}>} options.voters the room's voting members (boot data)
   * @param {(frame: object) => Promise<object>} options.request ack, or rejects with
   *   the error frame (shown here, not in the chat's alert)
   * @param {() => string} options.topic the topic a new poll is suggested in
   * @param {(text: string) => void} options.announce polite status for screen readers
   */
  constructor({ roomId, me, voters, request, topic, announce }) {
    Object.assign(this, { roomId, me, request, topic, announce });
    this.voters = [...(voters || [])].sort((a, b) => a.name.localeCompare(b.name));
    this.panel = byId("polls");
    this.data = null;
    this.forms = new Map(); // "poll:voter" -> BallotForm on screen
    this.editing = new Set(); // "poll:voter" whose ballot is being changed
    this.tool = new Map(); // poll id -> "close" | "extend" (copilot form open)
    this.cards = new Map(); // poll id -> <article>
    this.fetchCount = 0;
    this.eventSeq = 0; // the last poll event applied
  }

  start() {
    if (!this.panel) return;
    this.summary = byId("polls-summary");
    this.body = byId("polls-body");
    this.list = h("div", { class: "poll-list" });
    this.mine = h("div", { class: "poll-mine" });
    this.tools = h("div", { class: "polls-tools" });
    this.body.replaceChildren(this.tools, this.mine, this.list);
    this.body.addEventListener("click", (event) => this.onClick(event));
    this.body.addEventListener("submit", (event) => this.onSubmit(event));
    this.body.addEventListener("change", (event) => this.onChange(event));
    window.addEventListener("hashchange", () => this.showHash());
    setInterval(() => this.render(), TICK_MS);
    this.refresh();
  }

  // -- data ------------------------------------------------------------------------------
  async refresh() {
    this.fetchCount += 1;
    const mine = this.fetchCount;
    const since = this.eventSeq;
    try {
      const data = await getJSON(`/api/rooms/${this.roomId}/polls`);
      if (mine !== this.fetchCount) return; // a newer answer is on its way
      const first = this.data === null;
      this.data = data;
      this.render();
      if (first) this.firstShow();
      // An event applied while this answer was on its way may be missing from it.
      if (this.eventSeq !== since) this.scheduleRefresh();
    } catch {
      // The panel stays as it was; the next event or reconnection fetches it again.
    }
  }

  /** After a change made here from an ack: older answers on their way are stale. */
  changed() {
    this.fetchCount += 1;
    this.render();
  }

  scheduleRefresh(delay = REFRESH_DELAY_MS) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), delay);
  }

  poll(id) {
    return this.data?.polls.find((p) => p.id === id) || null;
  }

  /** A room event of POLL_EVENTS, in seq order. */
  onEvent(event) {
    if (!this.panel) return;
    this.eventSeq = event.seq;
    const poll = event.poll_id !== undefined ? this.poll(event.poll_id) : null;
    switch (event.type) {
      case "poll.voted":
        if (poll) {
          poll.participants = event.participants;
          poll.votedSeq = event.seq;
          if (event.counts) poll.counts = event.counts;
          this.render();
          // Counts shown after one's vote, a procuration's ballot: only the list has them.
          const me = poll.me || {};
          if ((poll.visibility === "after_vote" && me.voted) || me.gave_proxy) this.scheduleRefresh();
        } else this.scheduleRefresh();
        return;
      case "poll.extended":
        if (poll) {
          poll.closes_at = event.closes_at;
          this.render();
          if (event.by !== this.me.id)
            this.announce(
              t("js.poll.said.extended", { question: poll.question, when: moment(event.closes_at) }),
            );
        }
        this.scheduleRefresh();
        return;
      case "poll.created":
        if (event.poll?.created_by !== this.me.id) {
          this.announce(t("js.poll.said.created", { question: event.poll?.question || "" }));
        }
        break;
      case "poll.opened":
        this.announce(t("js.poll.said.opened", { question: event.poll?.question || "" }));
        break;
      case "poll.closed":
        forgetBallots(this.roomId, event.poll?.id);
        this.announce(
          t("js.poll.said.closed", {
            question: event.poll?.question || "",
            summary: event.result?.summary_fr || "",
          }),
        );
        break;
      case "poll.reminder":
        if (poll && this.needsMe(poll))
          this.announce(
            t("js.poll.said.reminder", { question: poll.question, when: moment(event.closes_at) }),
          );
        break;
      case "proxy.given":
        if (event.proxy?.holder?.id === this.me.id) {
          this.announce(t("js.poll.said.proxy_to_me", { name: event.proxy.giver.name }));
        }
        break;
      default:
    }
    this.scheduleRefresh();
  }

  // -- what the member has to do ---------------------------------------------------------
  needsMe(poll) {
    if (poll.status !== "open") return false;
    const me = poll.me || {};
    const own = me.eligible && !me.voted && !me.gave_proxy;
    return own || (me.represents || []).some((entry) => !entry.voted);
  }

  isVoter() {
    return this.voters.some((voter) => voter.id === this.me.id);
  }

  // -- drawing ---------------------------------------------------------------------------
  render() {
    if (!this.data || !this.panel) return;
    const polls = this.data.polls;
    const open = polls.filter((p) => p.status === "open");
    const waiting = polls.filter((p) => this.needsMe(p)).length;
    this.panel.hidden = !polls.length && !this.data.can_create;
    const label = open.length ? tn("js.poll.panel.open", open.length) : t("js.poll.panel.none");
    this.summary.replaceChildren(h("span", { class: "polls-summary-text", text: label }));
    if (waiting) {
      this.summary.append(
        h("span", { class: "badge badge-mention polls-waiting", text: tn("js.poll.panel.waiting", waiting) }),
      );
    }
    this.renderTools();
    this.renderMine();
    const seen = new Set();
    let previous = null;
    for (const poll of polls) {
      seen.add(poll.id);
      let card = this.cards.get(poll.id);
      if (!card) {
        card = h("article", {
          class: "poll-card",
          id: `vote-${poll.id}`,
          tabindex: "-1",
          "aria-labelledby": `vote-${poll.id}-q`,
        });
        this.cards.set(poll.id, card);
      }
      card.className = `poll-card poll-card-${poll.status}`;
      this.patch(card, cardBlocks(this, poll));
      const at = previous ? previous.nextElementSibling : this.list.firstElementChild;
      if (at !== card) this.list.insertBefore(card, at);
      previous = card;
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.remove();
        this.cards.delete(id);
      }
    }
    if (!polls.length) {
      this.list.replaceChildren(h("p", { class: "hint", text: t("js.poll.panel.empty") }));
    } else this.list.querySelector(":scope > .hint")?.remove();
    const wanted = this.pendingFocus;
    if (wanted && this.cards.get(wanted.pollId)?.querySelector(wanted.selector)) {
      this.pendingFocus = null;
      this.focusCard(wanted.pollId, wanted.selector);
    }
  }

  renderTools() {
    if (this.tools.childElementCount) return;
    const nodes = [];
    if (this.data.can_create) {
      this.creator = new PollCreator({
        roomId: this.roomId,
        request: this.request,
        topic: this.topic,
        onCreated: (id, frame) => this.created(id, frame),
      });
      nodes.push(
        h("button", {
          type: "button",
          class: "button button-primary button-small",
          id: "poll-new-open",
          "aria-haspopup": "dialog",
          text: t("js.poll.new.open"),
          onclick: (event) => this.creator.open(event.currentTarget),
        }),
        this.creator.dialog,
      );
    }
    nodes.push(
      h("a", { class: "polls-all", href: `/salons/${this.roomId}/votes`, text: t("js.poll.panel.all") }),
    );
    this.tools.replaceChildren(...nodes);
  }

  /** The procurations I gave or carry in this room, with "Révoquer" / "Refuser". */
  renderMine() {
    const mine = (this.data.proxies || []).filter(
      (p) => p.giver.id === this.me.id || p.holder.id === this.me.id,
    );
    const key = JSON.stringify(mine.map((p) => [p.id, p.poll_id, p.until]));
    if (this.mine.dataset.key === key) return;
    this.mine.dataset.key = key;
    if (!mine.length) {
      this.mine.replaceChildren();
      return;
    }
    this.mine.replaceChildren(...mineNodes(this, mine));
  }

  /** Replace the blocks of `card` whose key changed; keep the others (and their input). */
  patch(card, blocks) {
    const old = new Map([...card.children].map((el) => [el.dataset.block, el]));
    let previous = null;
    for (const block of blocks) {
      let el = old.get(block.id);
      old.delete(block.id);
      if (!el || el.dataset.key !== block.key) {
        const fresh = block.build();
        fresh.dataset.block = block.id;
        fresh.dataset.key = block.key;
        if (el) {
          const hadFocus = el.contains(document.activeElement);
          el.replaceWith(fresh);
          if (hadFocus) (fresh.querySelector("[data-focus-here]") || card).focus({ preventScroll: true });
        }
        el = fresh;
      }
      const at = previous ? previous.nextElementSibling : card.firstElementChild;
      if (at !== el) card.insertBefore(el, at);
      previous = el;
    }
    for (const el of old.values()) {
      if (el.contains(document.activeElement)) card.focus({ preventScroll: true });
      el.remove();
    }
  }

  // -- messages on a card ------------------------------------------------------------------
  region(pollId, role) {
    return this.cards.get(pollId)?.querySelector(`[data-role="${role}"]`) || null;
  }

  fail(pollId, text, focus = null) {
    const status = this.region(pollId, "status");
    if (status) status.textContent = "";
    const box = this.region(pollId, "alert");
    if (box) box.replaceChildren(h("p", { text }));
    else this.announce(text);
    focus?.focus();
  }

  say(pollId, text) {
    const box = this.region(pollId, "status");
    this.region(pollId, "alert")?.replaceChildren();
    if (box) box.textContent = text;
    else this.announce(text);
  }

  clearMessages(pollId) {
    this.region(pollId, "alert")?.replaceChildren();
    const status = this.region(pollId, "status");
    if (status) status.textContent = "";
  }

  // -- first display and links ---------------------------------------------------------------
  firstShow() {
    const wanted = /^#vote-\d+$/.test(location.hash);
    const pending = this.data.polls.some((p) => this.needsMe(p));
    if (wanted) this.showHash();
    else if (pending && window.matchMedia("(min-width: 48.01rem)").matches) this.setOpen(true);
  }

  setOpen(open) {
    this.panel.open = open;
  }

  showHash() {
    const match = /^#vote-(\d+)$/.exec(location.hash);
    if (!match) return;
    const card = this.cards.get(Number(match[1]));
    if (!card) return;
    this.setOpen(true);
    card.scrollIntoView({ block: "start" });
    card.focus({ preventScroll: true });
  }

  /** Focus the first match of `selector` in the card (the card itself if none can be). */
  focusCard(pollId, selector = "[data-focus-here]") {
    const card = this.cards.get(pollId);
    if (!card) return;
    const found = card.querySelector(selector);
    const target = found && (found.tabIndex >= 0 || found.hasAttribute("tabindex")) ? found : card;
    target.scrollIntoView({ block: "nearest" });
    target.focus({ preventScroll: true });
  }

  /** Focus `selector` in a card as soon as a render shows it (after a fetch). */
  focusWhenShown(pollId, selector) {
    this.pendingFocus = { pollId, selector };
  }

  /** After "Révoquer" / "Refuser" in "Vos procurations": the list, or the panel. */
  focusMine() {
    const title = this.mine.querySelector("h3");
    (title || this.summary).focus();
  }

  created(pollId, frame) {
    this.announce(t("js.poll.said.you_created", { question: frame.question }));
    this.setOpen(true);
    this.focusWhenShown(pollId, ".poll-head");
    this.refresh();
  }

  // -- actions -------------------------------------------------------------------------------
  onClick(event) {
    const button = event.target.closest("button[data-poll-action]");
    if (!button) return;
    const card = button.closest(".poll-card");
    const pollId = card ? Number(card.id.slice("vote-".length)) : null;
    const action = button.dataset.pollAction;
    if (action === "edit" || action === "cancel-edit") {
      const key = `${pollId}:${button.dataset.voter}`;
      if (action === "edit") this.editing.add(key);
      else this.editing.delete(key);
      this.clearMessages(pollId);
      this.render();
      const form = `form[data-voter="${button.dataset.voter}"]`;
      if (action === "edit") this.focusCard(pollId, `${form} :is(input, select, textarea, button)`);
      else this.focusCard(pollId);
    } else if (action === "revoke") revokeProxy(this, Number(button.dataset.proxyId), pollId, button);
    else if (action === "tool") {
      const was = this.tool.get(pollId);
      const tool = button.dataset.tool || null;
      if (tool && was !== tool) this.tool.set(pollId, tool);
      else this.tool.delete(pollId);
      const now = this.tool.get(pollId);
      this.render();
      if (now) this.focusCard(pollId, ".poll-tools [data-focus-here]");
      else this.focusCard(pollId, `.poll-tools button[data-tool="${was || tool}"]`);
    }
  }

  onChange(event) {
    const radio = event.target;
    if (radio.name === "scope" && radio.closest("form[data-form='proxy']")) {
      const form = radio.closest("form");
      form.querySelector(".poll-until").hidden = form.elements.scope.value !== "until";
    }
  }

  onSubmit(event) {
    const form = event.target.closest("form[data-form]");
    if (!form) return;
    event.preventDefault();
    const pollId = Number(form.dataset.poll);
    const poll = this.poll(pollId);
    if (!poll) return;
    const kind = form.dataset.form;
    if (kind === "vote") vote(this, poll, Number(form.dataset.voter), form);
    else if (kind === "proxy") giveProxy(this, poll, form);
    else if (kind === "close") closePoll(this, poll, form);
    else if (kind === "extend") extendPoll(this, poll, form);
  }

  /** After `reset` or a reconnection: everything may have moved. */
  reload() {
    this.scheduleRefresh(0);
  }
}
