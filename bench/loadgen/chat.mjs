// Chat clients for the load generator: connect + subscribe, paced sends, delivery
// accounting, and the resume measurement. Works unchanged against Atelier's /ws and the
// baseline server, which speak the same frames (docs/protocol.md).
//
// Cheap on purpose: a `message.posted` frame is never decoded nor JSON-parsed; the step
// prefix, the send timestamp (both in `client_id`) and the event `seq` are found with
// Buffer.indexOf on the raw bytes (UTF-8 validation is skipped too). Only acks and errors
// (one per send) are parsed.
import WebSocket from "ws";
import { drain, mapLimit, now, pace, percentiles, sleep } from "./stats.mjs";

const POSTED = Buffer.from('{"type":"message.posted"');
const CLIENT_ID = Buffer.from('"client_id":"');
const SEQ = Buffer.from('"seq":');
const QUOTE = 0x22;

const isPosted = (data) =>
  data.length > POSTED.length && data.compare(POSTED, 0, POSTED.length, 0, POSTED.length) === 0;

/** The first `"seq":<n>` of a frame (the event's position), read from the bytes. */
function readSeq(data) {
  let seq = 0;
  for (let i = data.indexOf(SEQ) + SEQ.length; i < data.length; i++) {
    const c = data[i];
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
  }
  return seq;
}
const TOPIC = "Charge";
let requests = 0;

/** Where deliveries of the current step are counted (one per run of `fanout`). */
const sink = {
  prefix: null,
  received: 0,
  latencies: [],
  lastAt: 0,
  startedAt: 0,
  timeline: [], // worst latency of the messages sent during each second of the step
  commit: () => {},
  readAfterMs: null, // when set, every member sends a read receipt as the browser does
  // Receipts (no request id: answered with id null); `waiting`: sockets about to send one.
  reads: { waiting: 0, sent: 0, acked: 0, refused: {} },
};

export class ChatClient {
  constructor(spec, options) {
    this.spec = spec;
    this.options = options;
    this.ws = null;
    this.received = 0; // message.posted of the current step on this socket
    this.lastSeq = -1;
    this.disorder = 0;
    this.pending = new Map(); // request id -> {resolve, sentAt, room}
    this.closedCode = null;
    this.onFrame = null; // extra hook (resume)
  }

  /** Open the socket, wait for `hello`, then subscribe to the room (wait for its ack). */
  async open(timeoutMs = 30_000) {
    const started = now();
    const headers = this.spec.cookie ? { Cookie: `atelier_session=${this.spec.cookie}` } : {};
    this.ws = new WebSocket(this.spec.url, {
      headers,
      perMessageDeflate: this.options.deflate,
      handshakeTimeout: timeoutMs,
      skipUTF8Validation: true,
    });
    const hello = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no hello")), timeoutMs);
      this.ws.once("error", (error) => reject(error));
      this.ws.once("close", (code) => reject(new Error(`closed with ${code} before hello`)));
      this.helloResolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.ws.on("message", (data, isBinary) => this.handle(data, isBinary));
    this.ws.on("close", (code) => {
      this.closedCode = code;
    });
    this.ws.on("error", () => {});
    await hello;
    if (this.spec.room != null && this.options.subscribe !== false) {
      await this.request({ type: "subscribe", rooms: [{ room_id: this.spec.room }] }, timeoutMs);
    }
    return now() - started;
  }

  request(frame, timeoutMs = 30_000) {
    const id = `q${++requests}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${frame.type}`)), timeoutMs);
      this.pending.set(id, {
        resolve: (answer) => {
          clearTimeout(timer);
          answer.type === "ack" ? resolve(answer) : reject(new Error(answer.code));
        },
      });
      this.ws.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Fire-and-forget send: the answer is counted by `step`. */
  post(step, sender, n) {
    const sentAt = now();
    const id = `q${++requests}`;
    const clientId = `${step.prefix}${sender}.${n}.${sentAt.toFixed(3)}`;
    step.pending.set(id, { sentAt, room: this.spec.room, client: this });
    this.pending.set(id, { resolve: (answer) => step.answer(id, answer) });
    this.ws.send(
      JSON.stringify({
        type: "send",
        id,
        room_id: this.spec.room,
        topic: TOPIC,
        body: `Message de charge n° ${n} de l'émetteur ${sender}, envoyé à ${sentAt.toFixed(3)}`,
        client_id: clientId,
      }),
    );
  }

  handle(data, isBinary) {
    if (isBinary) return;
    if (isPosted(data)) {
      if (this.onFrame) this.onFrame(data, true);
      const at = data.indexOf(CLIENT_ID) + CLIENT_ID.length;
      const prefix = sink.prefix;
      if (prefix === null || at < CLIENT_ID.length) return;
      if (data.toString("latin1", at, at + prefix.length) !== prefix) return;
      const t = now();
      const clientId = data.toString("latin1", at, data.indexOf(QUOTE, at));
      const sentAt = Number(clientId.slice(clientId.lastIndexOf(".", clientId.length - 5) + 1));
      sink.latencies.push(t - sentAt);
      const second = Math.floor((sentAt - sink.startedAt) / 1000);
      if (second >= 0 && !(sink.timeline[second] >= t - sentAt)) sink.timeline[second] = t - sentAt;
      sink.received += 1;
      sink.lastAt = t;
      this.received += 1;
      const seq = readSeq(data);
      if (this.lastSeq >= 0 && seq !== this.lastSeq + 1) this.disorder += 1;
      this.lastSeq = seq;
      sink.commit(this.spec.room, seq);
      if (sink.readAfterMs !== null) this.scheduleRead(sink.readAfterMs);
      return;
    }
    if (this.onFrame) this.onFrame(data, false);
    const head = data.toString("latin1", 0, 16);
    if (head.startsWith('{"type":"hello"')) {
      if (this.helloResolve) this.helloResolve();
    } else if (head.startsWith('{"type":"ack"') || head.startsWith('{"type":"error"')) {
      const answer = JSON.parse(data.toString("utf8"));
      if (answer.id === null) {
        if (answer.type === "ack") sink.reads.acked += 1;
        else sink.reads.refused[answer.code] = (sink.reads.refused[answer.code] || 0) + 1;
        return;
      }
      const waiting = this.pending.get(answer.id);
      if (waiting) {
        this.pending.delete(answer.id);
        waiting.resolve(answer);
      }
    }
  }

  /** As the browser (web/src/chat.js): `read` up to the last message shown, once no other
   * message came for `delayMs`; no request id, the answer is not awaited. */
  scheduleRead(delayMs) {
    if (this.readTimer) clearTimeout(this.readTimer);
    else sink.reads.waiting += 1;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      sink.reads.waiting -= 1;
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(JSON.stringify({ type: "read", room_id: this.spec.room, seq: this.lastSeq }));
      sink.reads.sent += 1;
    }, delayMs);
  }

  close() {
    if (this.readTimer) {
      clearTimeout(this.readTimer);
      this.readTimer = null;
      sink.reads.waiting -= 1;
    }
    if (this.ws) this.ws.terminate();
  }
}

/** Connect `clients` with at most `concurrency` handshakes in flight. */
export async function connectAll(clients, concurrency) {
  const started = now();
  const errors = [];
  const times = await mapLimit(clients, concurrency, async (client) => {
    try {
      return await client.open();
    } catch (error) {
      errors.push(String(error.message || error));
      return null;
    }
  });
  const ok = times.filter((t) => t !== null);
  return {
    connected: ok.length,
    failed: errors.length,
    errors: [...new Set(errors)].slice(0, 5),
    elapsed_ms: Math.round(now() - started),
    per_connection_ms: percentiles(ok),
  };
}

/**
 * One fanout step: every sender posts `rate` msg/s for `duration` s, then drain.
 *
 * Accounting: a message is *committed* when its ack or any delivery shows its seq; every
 * socket still open must receive every committed message of its room (`lost` counts
 * those it did not). Sockets the server closed (4008: it stopped reading fast enough)
 * are counted apart: a real client resumes with `after_seq` and loses nothing.
 */
export async function fanout(clients, cmd) {
  const committed = new Map(); // room -> Set of seqs of this step's messages
  const commit = (room, seq) => {
    let seqs = committed.get(room);
    if (!seqs) committed.set(room, (seqs = new Set()));
    seqs.add(seq);
  };
  const step = {
    prefix: `${cmd.step}.`,
    pending: new Map(),
    rejected: {},
    ackLatencies: [],
    answer(id, answer) {
      const sent = this.pending.get(id);
      this.pending.delete(id);
      if (answer.type === "ack") {
        this.ackLatencies.push(now() - sent.sentAt);
        commit(sent.room, answer.seq);
      } else this.rejected[answer.code] = (this.rejected[answer.code] || 0) + 1;
    },
  };
  const start = now() + 20;
  Object.assign(sink, {
    prefix: step.prefix,
    received: 0,
    latencies: [],
    lastAt: 0,
    startedAt: start,
    timeline: [],
    commit,
    readAfterMs: cmd.read_after_ms ?? null,
    reads: { waiting: 0, sent: 0, acked: 0, refused: {} },
  });
  for (const client of clients) Object.assign(client, { received: 0, lastSeq: -1, disorder: 0 });
  const senders = clients.filter((c) => c.spec.sender && c.closedCode === null);
  const period = 1000 / cmd.rate;
  const end = start + cmd.duration * 1000;
  const state = senders.map((client, index) => ({
    client,
    index,
    n: 0,
    due: start + (period * index) / senders.length,
  }));
  let sent = 0;
  const sentPerRoom = new Map();
  await pace(state, period, end, (s) => {
    s.client.post(step, s.index, s.n++);
    sentPerRoom.set(s.client.spec.room, (sentPerRoom.get(s.client.spec.room) || 0) + 1);
    sent += 1;
  });
  const expectedOf = (client) => committed.get(client.spec.room)?.size ?? 0;
  const open = () => clients.filter((c) => c.closedCode === null);
  const waiting = () => [...step.pending.values()].filter((p) => p.client.closedCode === null).length;
  const readsAnswered = () =>
    sink.reads.acked + Object.values(sink.reads.refused).reduce((a, b) => a + b, 0);
  const outcome = await drain(
    () =>
      waiting() === 0 &&
      open().every((c) => c.received >= expectedOf(c)) &&
      sink.reads.waiting === 0 &&
      readsAnswered() >= sink.reads.sent,
    () => sink.received + step.pending.size * 1e9,
    cmd.drain_idle_ms ?? 5_000,
    cmd.drain_max_ms ?? 20_000,
  );
  let lost = 0;
  let duplicates = 0;
  let missedWhileClosed = 0;
  const closeCodes = {};
  for (const client of clients) {
    const gap = expectedOf(client) - client.received;
    if (client.closedCode !== null) {
      closeCodes[client.closedCode] = (closeCodes[client.closedCode] || 0) + 1;
      missedWhileClosed += Math.max(0, gap);
    } else if (gap > 0) lost += gap;
    if (gap < 0) duplicates -= gap;
  }
  const expected = clients.reduce((sum, c) => sum + expectedOf(c), 0);
  const window = ((sink.lastAt || now()) - start) / 1000;
  // Still arriving when the drain gave up: late, not lost.
  const late = outcome === "deadline" ? lost : 0;
  if (outcome === "deadline") lost = 0;
  const result = {
    step: cmd.step,
    rate: cmd.rate,
    duration_s: cmd.duration,
    senders: senders.length,
    sent,
    committed: [...committed.values()].reduce((sum, seqs) => sum + seqs.size, 0),
    rejected: step.rejected,
    unanswered: step.pending.size,
    expected,
    received: sink.received,
    lost,
    late,
    duplicates,
    out_of_order: clients.reduce((sum, c) => sum + c.disorder, 0),
    closed_sockets: closeCodes,
    missed_while_closed: missedWhileClosed,
    complete: outcome === "done",
    drain: outcome,
    window_s: Math.round(window * 1000) / 1000,
    delivered_per_s: Math.round(sink.received / window),
    offered_per_s: Math.round(clients.reduce((sum, c) => sum + (sentPerRoom.get(c.spec.room) || 0), 0) / cmd.duration),
    latency_ms: percentiles(sink.latencies),
    ack_ms: percentiles(step.ackLatencies),
    worst_per_second_ms: Array.from(sink.timeline, (ms) => (ms === undefined ? null : Math.round(ms))),
    reads: { ...sink.reads },
  };
  sink.prefix = null;
  sink.latencies = [];
  sink.readAfterMs = null;
  return result;
}

/** Reconnect after missing events: subscribe with `after_seq`, time until `live`. */
export async function resume(cmd, options) {
  const client = new ChatClient({ url: cmd.url, cookie: cmd.cookie, room: null }, options);
  await client.open();
  let events = 0;
  let firstAt = null;
  let lastSeq = cmd.after_seq;
  let gaps = 0;
  let liveAt = null;
  let liveSeq = null;
  client.onFrame = (data, posted) => {
    if (posted) {
      firstAt ??= now();
      events += 1;
      const seq = readSeq(data);
      if (seq !== lastSeq + 1) gaps += 1;
      lastSeq = seq;
    } else if (data.toString("latin1", 0, 15) === '{"type":"live",') {
      liveAt = now();
      liveSeq = JSON.parse(data.toString("utf8")).seq;
    }
  };
  const started = now();
  await client.request(
    { type: "subscribe", rooms: [{ room_id: cmd.room, after_seq: cmd.after_seq }] },
    120_000,
  );
  const acked = now();
  while (liveAt === null && now() - started < 120_000) await sleep(1);
  client.close();
  return {
    events,
    gaps,
    live_seq: liveSeq,
    first_event_ms: firstAt === null ? null : Math.round((firstAt - started) * 100) / 100,
    caught_up_ms: liveAt === null ? null : Math.round((liveAt - started) * 100) / 100,
    ack_ms: Math.round((acked - started) * 100) / 100,
  };
}
