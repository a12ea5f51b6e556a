// Yjs editors for the load generator: the y-websocket protocol (y-protocols/sync) over
// `ws`, as the browser's WebsocketProvider speaks it, without the provider's timers.
//
// Latency of an edit: every editor lives in this one process, so the sender records
// when it sent the update whose first struct is (clientID, clock), and every other
// editor looks that id up when the update reaches it.
//
// So that the generator measures the server, not Yjs: only the "witness" editors
// (`spec.witness`, the first five by default) apply the others' updates to their
// document, and check at the end that they converged to every keystroke typed; the other
// editors read each update's first struct id from its first bytes and type into their
// own copy (still valid concurrent edits for the server). The server receives and sends
// exactly the same messages either way; applying 49 editors' updates in 50 documents
// held the generator at 95–98 % of its core and made its own timestamps late.
import WebSocket from "ws";
import * as Y from "yjs";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import { drain, mapLimit, now, pace, percentiles, sleep } from "./stats.mjs";

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const sentAt = new Map(); // "client:clock" -> ms
const sink = { active: false, received: 0, latencies: [] };
let typed = 0; // keystrokes since the editors synced, by all of them

function syncMessage(write) {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  write(encoder);
  return encoding.toUint8Array(encoder);
}

export class Editor {
  constructor(spec, options) {
    this.spec = spec;
    this.options = options;
    this.doc = new Y.Doc();
    this.text = this.doc.getText("markdown");
    this.synced = false;
    this.witness = spec.witness !== false;
    this.syncedLength = 0;
    this.seen = new Set(); // update ids received (a resent update is counted once)
    this.closedCode = null;
    this.cursor = null;
    this.awarenessClock = 0;
    this.doc.on("update", (update, origin) => this.onUpdate(update, origin));
  }

  async open(timeoutMs = 60_000) {
    const started = now();
    this.ws = new WebSocket(this.spec.url, {
      headers: this.spec.cookie ? { Cookie: `atelier_session=${this.spec.cookie}` } : {},
      perMessageDeflate: this.options.deflate,
      handshakeTimeout: timeoutMs,
    });
    this.ws.binaryType = "nodebuffer";
    this.ws.on("message", (data) => this.handle(data));
    this.ws.on("close", (code) => {
      this.closedCode = code;
    });
    this.ws.on("error", () => {});
    await new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
    this.ws.send(syncMessage((e) => syncProtocol.writeSyncStep1(e, this.doc)));
    const deadline = started + timeoutMs;
    while (!this.synced) {
      if (this.closedCode !== null) throw new Error(`closed with ${this.closedCode}`);
      if (now() > deadline) throw new Error("not synced");
      await sleep(2);
    }
    return now() - started;
  }

  handle(data) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    if (!this.witness && this.synced && this.readUpdateId(bytes)) return;
    const decoder = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_SYNC) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      const kind = syncProtocol.readSyncMessage(decoder, encoder, this.doc, "remote");
      if (encoding.length(encoder) > 1) this.ws.send(encoding.toUint8Array(encoder));
      if (kind === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        this.syncedLength = this.text.length;
      }
    }
    // Awareness from the others is only counted by the server's CPU, not decoded here.
  }

  /** A non-witness's reading of a sync update: true when `bytes` was one (and is done). */
  readUpdateId(bytes) {
    const decoder = decoding.createDecoder(bytes);
    if (decoding.readVarUint(decoder) !== MESSAGE_SYNC) return false;
    if (decoding.readVarUint(decoder) !== syncProtocol.messageYjsUpdate) return false;
    decoding.readVarUint(decoder); // the update's length
    // Update v1: clients, then per client its structs' count, the client and the clock
    // of its first struct.
    if (decoding.readVarUint(decoder) === 0) return true;
    decoding.readVarUint(decoder);
    const client = decoding.readVarUint(decoder);
    this.arrived(client, decoding.readVarUint(decoder));
    return true;
  }

  arrived(client, clock) {
    if (!sink.active) return;
    const key = `${client}:${clock}`;
    const at = sentAt.get(key);
    if (at === undefined || this.seen.has(key)) return;
    this.seen.add(key);
    sink.latencies.push(now() - at);
    sink.received += 1;
  }

  onUpdate(update, origin) {
    if (origin === "remote") {
      if (!sink.active) return;
      const structs = Y.decodeUpdate(update).structs;
      if (structs.length > 0) this.arrived(structs[0].id.client, structs[0].id.clock);
      return;
    }
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(syncMessage((e) => syncProtocol.writeUpdate(e, update)));
    }
  }

  /** Type one character at this editor's cursor (a relative position, like an editor). */
  type(char, withAwareness) {
    let index = this.text.length;
    if (this.cursor !== null) {
      const absolute = Y.createAbsolutePositionFromRelativePosition(this.cursor, this.doc);
      if (absolute) index = absolute.index;
    } else {
      index = Math.floor(Math.random() * (this.text.length + 1));
    }
    const clock = Y.getState(this.doc.store, this.doc.clientID);
    sentAt.set(`${this.doc.clientID}:${clock}`, now());
    typed += 1;
    this.text.insert(index, char);
    this.cursor = Y.createRelativePositionFromTypeIndex(this.text, index + 1);
    if (withAwareness) this.sendCursor(index + 1);
  }

  sendCursor(index) {
    const state = JSON.stringify({
      user: { name: this.spec.name || "Éditeur", color: "#000091", colorLight: "#e3e3fd" },
      cursor: { anchor: index, head: index },
    });
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
    const inner = encoding.createEncoder();
    encoding.writeVarUint(inner, 1);
    encoding.writeVarUint(inner, this.doc.clientID);
    encoding.writeVarUint(inner, ++this.awarenessClock);
    encoding.writeVarString(inner, state);
    encoding.writeVarUint8Array(encoder, encoding.toUint8Array(inner));
    this.ws.send(encoding.toUint8Array(encoder));
  }

  close() {
    if (this.ws) this.ws.terminate();
  }
}

export async function connectEditors(editors, concurrency) {
  const started = now();
  const errors = [];
  const times = await mapLimit(editors, concurrency, async (editor) => {
    try {
      return await editor.open();
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

function closeCodes(editors) {
  const codes = {};
  for (const editor of editors) {
    if (editor.closedCode !== null) codes[editor.closedCode] = (codes[editor.closedCode] || 0) + 1;
  }
  return codes;
}

/** Every editor types `rate` characters per second for `duration` s; then drain. */
export async function typing(editors, cmd) {
  Object.assign(sink, { active: true, received: 0, latencies: [] });
  sentAt.clear();
  for (const editor of editors) editor.seen.clear();
  const live = editors.filter((e) => e.closedCode === null);
  const period = 1000 / cmd.rate;
  const start = now() + 20;
  const end = start + cmd.duration * 1000;
  const state = live.map((editor, index) => ({
    editor,
    due: start + (period * index) / live.length,
  }));
  let ops = 0;
  const letters = "abcdefghijklmnopqrstuvwxyz ";
  await pace(state, period, end, (s) => {
    s.editor.type(letters[ops % letters.length], cmd.awareness !== false);
    ops += 1;
  });
  const expected = ops * (live.length - 1);
  const outcome = await drain(
    () => sink.received >= expected,
    () => sink.received,
    cmd.drain_idle_ms ?? 5_000,
    cmd.drain_max_ms ?? 20_000,
  );
  const missing = Math.max(0, expected - sink.received);
  // Converged: the witnesses hold the same text, with every keystroke typed since sync
  // (an update whose arrival was timed may still wait for the one it follows).
  const witnesses = live.filter((e) => e.witness);
  const complete = () => witnesses.every((e) => e.text.length === e.syncedLength + typed);
  await drain(complete, () => witnesses.reduce((n, e) => n + e.text.length, 0), 2_000, 10_000);
  const texts = new Set(witnesses.map((e) => e.text.toString()));
  sink.active = false;
  return {
    editors: live.length,
    rate: cmd.rate,
    duration_s: cmd.duration,
    ops,
    expected,
    received: sink.received,
    lost: outcome === "deadline" ? 0 : missing,
    late: outcome === "deadline" ? missing : 0,
    complete: outcome === "done",
    drain: outcome,
    witnesses: witnesses.length,
    converged: texts.size === 1 && complete(),
    closed_sockets: closeCodes(editors),
    latency_ms: percentiles(sink.latencies),
  };
}

/** Open one draft cold and time its full sync (the server loads it from the database). */
export async function load(cmd, options) {
  const editor = new Editor({ url: cmd.url, cookie: cmd.cookie }, options);
  const ms = await editor.open(120_000);
  const length = editor.text.length;
  editor.close();
  return { load_ms: Math.round(ms * 100) / 100, text_chars: length };
}
