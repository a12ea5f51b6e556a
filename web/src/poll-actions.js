// What the poll panel's forms and buttons send (frames: docs/protocol.md): a ballot (one's
// own or by procuration), a procuration given or revoked, a poll closed or extended. On
// success the panel is updated at once from the ack and fetched again soon after; a
// refusal is shown on the poll's card, in French, as the server phrased it.
import { t } from "./i18n.js";
import { errorText, moment, storeBallot, storedBallot } from "./poll-format.js";

async function send(page, pollId, form, frame) {
  const button = form?.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    return await page.request(frame);
  } catch (error) {
    page.fail(pollId, errorText(error));
    throw error;
  } finally {
    if (button) button.disabled = false;
  }
}

export async function vote(page, poll, voterId, form) {
  const key = `${poll.id}:${voterId}`;
  const ballotForm = page.forms.get(key);
  if (!ballotForm) return;
  const read = ballotForm.read();
  if (read.error) {
    page.fail(poll.id, read.error, read.focus);
    return;
  }
  const frame = { type: "poll.vote", room_id: page.roomId, poll_id: poll.id, ballot: read.ballot };
  if (voterId !== page.me.id) frame.for_user_id = voterId;
  const stored = poll.secret ? storedBallot(page.roomId, poll.id, voterId) : null;
  if (stored?.receipt) frame.receipt = stored.receipt;
  let ack;
  try {
    ack = await send(page, poll.id, form, frame);
  } catch {
    return;
  }
  if (poll.secret && (ack.receipt || stored?.receipt)) {
    storeBallot(page.roomId, poll.id, voterId, ack.receipt || stored.receipt, read.ballot);
  }
  const me = poll.me || (poll.me = {});
  // Counted before poll.voted says so (no jump later), unless that event came first.
  if (!ack.replaced && !(poll.votedSeq >= ack.seq)) poll.participants += 1;
  if (voterId === page.me.id) {
    me.voted = true;
    if (!poll.secret) me.ballot = read.ballot;
    if (ack.counts) poll.counts = ack.counts;
  } else {
    const entry = (me.represents || []).find((e) => e.user.id === voterId);
    if (entry) {
      entry.voted = true;
      if (!poll.secret) entry.ballot = read.ballot;
    }
  }
  page.editing.delete(key);
  page.forms.delete(key);
  page.changed();
  // The notice that replaces the form says it (and takes the focus): no second message.
  page.clearMessages(poll.id);
  const block = voterId === page.me.id ? "notice" : `ballot-${voterId}`;
  page.focusCard(poll.id, `[data-block="${block}"] [data-focus-here]`);
  page.scheduleRefresh();
}

export async function giveProxy(page, poll, form) {
  const holder = form.elements.holder;
  if (!holder.value) {
    page.fail(poll.id, t("js.poll.error.holder"), holder);
    return;
  }
  const frame = { type: "proxy.give", room_id: page.roomId, holder_id: Number(holder.value) };
  if (form.elements.scope.value === "until") {
    if (!form.elements.until.value) {
      page.fail(poll.id, t("js.poll.error.until"), form.elements.until);
      return;
    }
    frame.until = form.elements.until.value;
  } else frame.poll_id = poll.id;
  let ack;
  try {
    ack = await send(page, poll.id, form, frame);
  } catch {
    return;
  }
  const name = holder.selectedOptions[0]?.textContent || "";
  const me = poll.me || (poll.me = {});
  me.gave_proxy = {
    id: ack.proxy_id,
    holder: { id: frame.holder_id, name },
    poll_id: frame.poll_id ?? null,
    until: frame.until ? `${frame.until}T23:59:00` : null,
  };
  page.changed();
  page.clearMessages(poll.id);
  page.focusCard(poll.id, '[data-block="notice"] [data-focus-here]');
  page.scheduleRefresh(0);
}

export async function revokeProxy(page, proxyId, pollId, button) {
  button.disabled = true;
  try {
    await page.request({ type: "proxy.revoke", room_id: page.roomId, proxy_id: proxyId });
  } catch (error) {
    button.disabled = false;
    if (pollId) page.fail(pollId, errorText(error));
    else page.announce(errorText(error));
    return;
  }
  page.announce(t("js.poll.said.proxy_revoked"));
  for (const poll of page.data.polls) {
    if (poll.me?.gave_proxy?.id === proxyId) delete poll.me.gave_proxy;
  }
  page.data.proxies = page.data.proxies.filter((p) => p.id !== proxyId);
  page.changed();
  if (pollId) page.focusCard(pollId, `form[data-voter="${page.me.id}"] :is(input, select, button)`);
  else page.focusMine();
  page.scheduleRefresh(0);
}

export async function closePoll(page, poll, form) {
  const outcome = form.querySelector("textarea").value.trim();
  const frame = { type: "poll.close", room_id: page.roomId, poll_id: poll.id };
  if (outcome) frame.outcome = outcome;
  try {
    await send(page, poll.id, form, frame);
  } catch {
    return;
  }
  page.tool.delete(poll.id);
  page.announce(t("js.poll.said.you_closed", { question: poll.question }));
  // Once the card shows the result (the next fetch): the focus goes to its summary.
  page.focusWhenShown(poll.id, ".poll-result-summary");
  await page.refresh();
}

export async function extendPoll(page, poll, form) {
  const picker = page.extenders?.get(poll.id);
  const minutes = picker?.minutes();
  if (minutes === undefined || minutes === null) return;
  if (minutes.error) {
    page.fail(poll.id, minutes.error, minutes.focus);
    return;
  }
  try {
    await send(page, poll.id, form, {
      type: "poll.extend",
      room_id: page.roomId,
      poll_id: poll.id,
      closes_in_minutes: minutes,
    });
  } catch {
    return;
  }
  page.tool.delete(poll.id);
  poll.closes_at = new Date(Date.now() + minutes * 60_000).toISOString();
  page.changed();
  page.say(poll.id, t("js.poll.said.extended_you", { when: moment(poll.closes_at) }));
  page.focusCard(poll.id, '.poll-tools button[data-tool="extend"]');
  page.scheduleRefresh();
}
