// One reconnecting WebSocket per tab (frame shapes: server/protocol.py).
//
// - Reconnects with exponential backoff and jitter; a page coming back to the
//   foreground or the network coming back retries at once.
// - After every `hello` it subscribes again with `after_seq` = the last event seen, so
//   the server replays exactly what was missed (or answers `reset`).
// - `post()` keeps a send in the outbox until its `ack`, and re-sends it after a
//   reconnection with the SAME `client_id`: the server answers a duplicate with the
//   original message, so nothing is lost and nothing is doubled.
// - A ping every 20 s; a socket silent for 45 s is considered dead and replaced.

const NO_RETRY_CODES = new Set([4001, 4401, 4403]); // session ended, not signed in, origin
const PING_EVERY_MS = 20_000;
const DEAD_AFTER_MS = 45_000;
const REQUEST_TIMEOUT_MS = 15_000;
const MAX_BACKOFF_MS = 30_000;

export class ChatSocket {
  /**
   * @param {object} options
   * @param {string} options.url ws(s)://host/ws
   * @param {() => Array<{room_id: number, after_seq: number}>} options.subscriptions
   * @param {(frame: object) => void} options.onFrame every server frame
   * @param {(state: string, info?: object) => void} options.onStatus
   *   "connecting" | "online" | "offline" ({delay}) | "ended" ({code})
   */
  constructor({ url, subscriptions, onFrame, onStatus }) {
    this.url = url;
    this.subscriptions = subscriptions;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.attempt = 0;
    this.counter = 0;
    this.lastHeard = 0;
    this.outbox = new Map(); // client_id -> send frame
    this.sendIds = new Map(); // request id -> client_id
    this.requests = new Map(); // request id -> {resolve, reject, timer}
    this.retryTimer = null;
    this.pingTimer = null;
  }

  start() {
    window.addEventListener("online", () => this.wake());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.wake();
    });
    this.connect();
  }

  nextId(prefix) {
    this.counter += 1;
    return `${prefix}${this.counter}`;
  }

  wake() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    this.ready = false;
    this.onStatus("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("message", (event) => this.receive(ws, event.data));
    ws.addEventListener("close", (event) => this.lost(ws, event.code));
  }

  receive(ws, data) {
    if (ws !== this.ws) return;
    this.lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "hello") this.opened();
    if (frame.type === "ack" && frame.client_id) this.outbox.delete(frame.client_id);
    if ((frame.type === "ack" || frame.type === "error") && frame.id) {
      const clientId = this.sendIds.get(frame.id);
      if (clientId !== undefined) {
        this.sendIds.delete(frame.id);
        frame.client_id = frame.client_id ?? clientId;
        // A refused send is final: it leaves the outbox (the page offers to retry).
        if (frame.type === "error") this.outbox.delete(clientId);
      }
      this.settle(frame);
    }
    this.onFrame(frame);
  }

  opened() {
    this.attempt = 0;
    this.ready = true;
    this.onStatus("online");
    this.raw({ type: "subscribe", id: this.nextId("s"), rooms: this.subscriptions() });
    for (const frame of this.outbox.values()) this.transmit(frame);
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
  }

  heartbeat() {
    if (!this.ws) return;
    if (Date.now() - this.lastHeard > DEAD_AFTER_MS) {
      const dead = this.ws;
      this.lost(dead, 1006);
      try {
        dead.close();
      } catch {
        // Already closing.
      }
      return;
    }
    this.raw({ type: "ping", id: this.nextId("p") });
  }

  lost(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    for (const request of this.requests.values()) {
      clearTimeout(request.timer);
      request.reject({ code: "offline" });
    }
    this.requests.clear();
    this.sendIds.clear();
    if (NO_RETRY_CODES.has(code)) {
      this.stopped = true;
      this.onStatus("ended", { code });
      return;
    }
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.attempt += 1;
    const ceiling = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempt, 6));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.onStatus("offline", { delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  raw(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  transmit(frame) {
    const id = this.nextId("m");
    this.sendIds.set(id, frame.client_id);
    this.raw({ ...frame, id });
  }

  /** Fire and forget (typing, read): dropped while offline. */
  notify(frame) {
    return this.raw(frame);
  }

  /** A frame answered by `ack` (resolve) or `error` (reject with the error frame). */
  /** Send `frame` with a fresh request id (`onId(id)` learns it before any answer). */
  request(frame, onId = null) {
    const id = this.nextId("q");
    onId?.(id);
    return new Promise((resolve, reject) => {
      if (!this.raw({ ...frame, id })) {
        reject({ code: "offline" });
        return;
      }
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject({ code: "timeout" });
      }, REQUEST_TIMEOUT_MS);
      this.requests.set(id, { resolve, reject, timer });
    });
  }

  settle(frame) {
    const request = this.requests.get(frame.id);
    if (!request) return;
    this.requests.delete(frame.id);
    clearTimeout(request.timer);
    if (frame.type === "ack") request.resolve(frame);
    else request.reject(frame);
  }

  /** A durable send: kept until acknowledged, re-sent with its client_id after reconnects. */
  post(frame) {
    const full = { ...frame, type: "send" };
    this.outbox.set(full.client_id, full);
    if (this.ready) this.transmit(full);
  }

  isQueued(clientId) {
    return this.outbox.has(clientId);
  }
}
