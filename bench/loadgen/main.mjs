// The load generator: one Node process driving many WebSocket clients, controlled by the
// Python runner (bench/run.py) through JSON lines — commands on stdin, results on stdout.
//
// Usage: node bench/loadgen/main.mjs <config.json>
//   config: {"kind": "chat" | "drafts", "deflate": true,
//            "clients": [{"url": "ws://…/ws", "cookie": "…", "room": 12, "sender": true}, …]}
// Commands (one JSON object per line):
//   {"cmd": "connect", "from": 0, "to": 500, "concurrency": 100}  -> "connected"
//   {"cmd": "fanout", "step": "s1", "rate": 10, "duration": 15}    -> "fanout" (chat)
//   {"cmd": "type", "rate": 5, "duration": 15, "awareness": true}  -> "typing" (drafts)
//   {"cmd": "resume", "url", "cookie", "room", "after_seq"}        -> "resumed" (chat)
//   {"cmd": "load", "url", "cookie"}                                -> "loaded" (drafts)
//   {"cmd": "close"}                                                -> "closed", then exit
// Every reply carries the generator's own CPU time, so the runner can tell when the
// generator, not the server, was the limit.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ChatClient, connectAll, fanout, resume } from "./chat.mjs";
import { Editor, connectEditors, load, typing } from "./drafts.mjs";
import { emit } from "./stats.mjs";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const options = { deflate: config.deflate !== false };
const Client = config.kind === "drafts" ? Editor : ChatClient;
const clients = (config.clients || []).map((spec) => new Client(spec, options));

async function run(command) {
  switch (command.cmd) {
    case "connect": {
      const slice = clients.slice(command.from ?? 0, command.to ?? clients.length);
      const connect = config.kind === "drafts" ? connectEditors : connectAll;
      return ["connected", await connect(slice, command.concurrency ?? 100)];
    }
    case "fanout":
      return ["fanout", await fanout(clients, command)];
    case "type":
      return ["typing", await typing(clients, command)];
    case "resume":
      return ["resumed", await resume(command, options)];
    case "load":
      return ["loaded", await load(command, options)];
    case "close":
      for (const client of clients) client.close();
      return ["closed", {}];
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
}

const lines = createInterface({ input: process.stdin });
emit("ready", { clients: clients.length });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  try {
    const [event, result] = await run(command);
    emit(event, result);
    if (command.cmd === "close") break;
  } catch (error) {
    emit("failed", { error: String(error.stack || error) });
  }
}
process.exit(0);
