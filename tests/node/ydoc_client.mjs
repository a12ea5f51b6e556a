// The stock y-websocket client, under Node, against Atelier's /ws/drafts endpoint.
//
// Usage: node tests/node/ydoc_client.mjs <config.json>
// config: {"ws_url": "ws://127.0.0.1:PORT/ws/drafts", "origin": "http://127.0.0.1:PORT",
//          "room": "1", "writer": {"cookie": "...", "name": "..."},
//          "reader": {"cookie": "...", "name": "..."},
//          "observer": {"cookie": "...", "name": "..."} (optional), "text": "..."}
//
// The writer and the reader (two members who may edit) connect with their session
// cookies and sync; the writer inserts `text` at the end of the shared Y.Text
// "markdown"; the reader must see it, and the writer's awareness name. The optional
// observer (read-only) must see it too, and be disconnected with 4003 when it tries to
// send an update. Prints one JSON object with what happened, then exits.
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";

const TIMEOUT_MS = 15_000;
const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

/** A WebSocket class for y-websocket that sends this member's session cookie. */
function socketWithCookie(cookie) {
  return class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, {
        headers: { Cookie: `atelier_session=${cookie}`, Origin: config.origin },
      });
    }
  };
}

function connect(member) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(config.ws_url, config.room, doc, {
    WebSocketPolyfill: socketWithCookie(member.cookie),
    // Two providers in one process would otherwise sync through a BroadcastChannel
    // without the server: only the server may carry the text here.
    disableBc: true,
    // A refused connection must show, not retry forever.
    shouldReconnect: () => false,
  });
  provider.awareness.setLocalStateField("user", { name: member.name, color: "#000091" });
  const closes = [];
  provider.on("connection-close", (event) => closes.push(event ? event.code : null));
  return { doc, text: doc.getText("markdown"), provider, closes };
}

function until(check, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      let value;
      try {
        value = check();
      } catch (error) {
        reject(error);
        return;
      }
      if (value) resolve(value);
      else if (Date.now() - started > TIMEOUT_MS) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

const result = { ok: false };
const clients = [];
try {
  const writer = connect(config.writer);
  const reader = connect(config.reader);
  clients.push(writer, reader);
  await until(() => writer.provider.synced, "the writer's sync");
  await until(() => reader.provider.synced, "the reader's sync");
  result.initial_length = writer.text.length;
  result.same_initial_text = writer.text.toString() === reader.text.toString();

  writer.text.insert(writer.text.length, `\n${config.text}\n`);
  await until(() => reader.text.toString().includes(config.text), "the text on the reader's side");
  result.reader_sees_text = true;
  result.reader_text = reader.text.toString();
  await until(
    () =>
      [...reader.provider.awareness.getStates().values()].some(
        (state) => state.user?.name === config.writer.name,
      ),
    "the writer in the reader's awareness",
  );
  result.reader_sees_writer = true;

  if (config.observer) {
    const observer = connect(config.observer);
    clients.push(observer);
    await until(() => observer.provider.synced, "the observer's sync");
    result.observer_sees_text = observer.text.toString().includes(config.text);
    observer.text.insert(0, "refusé ");
    await until(() => observer.closes.length > 0, "the observer's disconnection");
    result.observer_close_code = observer.closes[0];
    // The refused insertion reached nobody.
    await new Promise((resolve) => setTimeout(resolve, 500));
    result.reader_unchanged = !reader.text.toString().includes("refusé ");
  }
  result.ok = true;
} catch (error) {
  result.error = String(error?.message || error);
} finally {
  for (const client of clients) client.provider.destroy();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok ? 0 : 1);
