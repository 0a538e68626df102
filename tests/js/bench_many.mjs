// Many-documents benchmark clients (bench/many_documents.py drives one or more of these).
// This process owns some documents and every client of them, so each latency (an edit's send
// → its arrival at another client of the same document) is measured on this process's one
// clock; the driver partitions the documents between processes and merges the histograms.
//
// Phases, one command per stdin line; each is answered with one stdout line once done (the
// driver samples the server's memory and CPU between them):
//   bare       open `bare` plain Socket.IO sockets on `/` (authenticated, in no document)
//                                                      → "bare-ready"
//   bare-close close them                              → "bare-closed"
//   join       connect `perDoc` y-socket.io providers to each of `rooms`, `batch` at a time,
//              until each synced (documents still empty) → "joined {ms, errors}"
//   load       the first client of each document inserts `textBytes` of text, until every
//              client of it holds it                   → "loaded"
//   edit T     from epoch ms T every client inserts a marker every 1000/`rate` ms (open
//              loop, start jittered over one interval) for `durationMs`, then waits for the
//              deliveries (at most `drainMs`)           → "end", then one JSON line of results
// Usage: node bench_many.mjs '{"url","token","rooms":[...],"perDoc","rate","durationMs",
//   "textBytes","bare","batch","drainMs"}'
import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import { SocketIOProvider } from "y-socket.io";
import * as Y from "yjs";

const opts = JSON.parse(process.argv[2]);
const { url, token, rooms, perDoc } = opts;
const rate = opts.rate ?? 2;
const durationMs = opts.durationMs ?? 20000;
const drainMs = opts.drainMs ?? 30000;
const batch = opts.batch ?? 50;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK = /\u0001(\d+)\u0002/g;
process.setMaxListeners(0); // every provider adds an `exit` listener

const sent = new Map(); // edit id → send time (performance.now)
const hist = new Map(); // latency in 0.1 ms → count
const worst = []; // per second of sending (from the first edit): the slowest delivery, ms
let deliveries = 0;
let firstSend = 0;
let lastReceipt = 0;
let errors = 0;
const errorKinds = {};
const peers = [];
let bare = [];

function noteError(kind) {
  errors += 1;
  errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
}

function observe(peer) {
  peer.text.observe((event) => {
    if (event.transaction.local) return;
    const now = performance.now();
    for (const op of event.delta) {
      if (typeof op.insert !== "string") continue;
      for (const match of op.insert.matchAll(MARK)) {
        const t0 = sent.get(Number(match[1]));
        if (t0 === undefined) continue;
        const key = Math.round((now - t0) * 10);
        hist.set(key, (hist.get(key) ?? 0) + 1);
        const second = Math.floor((t0 - firstSend) / 1000);
        worst[second] = Math.max(worst[second] ?? 0, Math.round(now - t0));
        deliveries += 1;
        lastReceipt = now;
      }
    }
  });
}

async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

async function openBare() {
  for (let i = 0; i < (opts.bare ?? 0); i += batch) {
    const group = [];
    for (let j = i; j < Math.min(i + batch, opts.bare); j++) {
      const socket = io(url, { transports: ["websocket"], forceNew: true, auth: { token } });
      socket.on("connect_error", (err) => noteError(`bare: ${err.message}`));
      group.push(socket);
    }
    bare.push(...group);
    await until(() => group.every((s) => s.connected), 60000, "bare sockets connect");
  }
}

async function join() {
  const t0 = performance.now();
  for (const room of rooms) {
    for (let i = 0; i < perDoc; i++) {
      const doc = new Y.Doc();
      const provider = new SocketIOProvider(url, room, doc, {
        auth: { token },
        disableBc: true,
        autoConnect: false,
      });
      provider.socket.on("connect_error", (err) => noteError(`join: ${err.message}`));
      provider.socket.on("sync-error", (err) => noteError(`sync-error: ${JSON.stringify(err)}`));
      // A dropped connection (say a missed ping under a backlog) reconnects and resyncs the
      // whole document: counted, as it changes what the server does.
      provider.socket.on("disconnect", (reason) => noteError(`disconnect: ${reason}`));
      const peer = { doc, provider, text: doc.getText("content"), room };
      observe(peer);
      peers.push(peer);
    }
  }
  for (let i = 0; i < peers.length; i += batch) {
    const group = peers.slice(i, i + batch);
    for (const p of group) p.provider.connect();
    await until(() => group.every((p) => p.provider.synced), 120000, "providers sync");
  }
  return performance.now() - t0;
}

async function load() {
  const bytes = opts.textBytes ?? 0;
  if (!bytes) return;
  const line = "x".repeat(79) + "\n";
  const body = line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
  for (let i = 0; i < peers.length; i += perDoc) peers[i].text.insert(0, body);
  await until(() => peers.every((p) => p.text.length >= bytes), 120000, "text reaches everyone");
}

async function edit(startAt) {
  const interval = 1000 / rate;
  let nextId = 0;
  await sleep(Math.max(0, startAt - Date.now()));
  const start = performance.now();
  firstSend = start;
  const stopAt = start + durationMs;
  await Promise.all(
    peers.map(async (peer) => {
      // Each client on its own schedule (absolute, so a late timer does not shift the rest).
      let due = start + Math.random() * interval;
      for (;;) {
        await sleep(Math.min(due, stopAt) - performance.now());
        if (performance.now() >= stopAt) return;
        const id = nextId++;
        sent.set(id, performance.now());
        peer.text.insert(peer.text.length, `\u0001${id}\u0002`);
        due += interval;
      }
    }),
  );
  const expected = nextId * (perDoc - 1);
  const drained = Date.now() + drainMs;
  while (deliveries < expected && Date.now() < drained) await sleep(20);
  return { edits: nextId, expected };
}

const lines = createInterface({ input: process.stdin });
let editCpu = null;
for await (const line of lines) {
  const [command, arg] = line.trim().split(" ");
  try {
    if (command === "bare") {
      await openBare();
      console.log("bare-ready");
    } else if (command === "bare-close") {
      for (const s of bare) s.disconnect();
      bare = [];
      await sleep(500);
      console.log("bare-closed");
    } else if (command === "join") {
      const ms = await join();
      console.log(`joined ${JSON.stringify({ ms, errors })}`);
    } else if (command === "load") {
      await load();
      console.log("loaded");
    } else if (command === "edit") {
      const before = process.cpuUsage();
      const wall = performance.now();
      const got = await edit(Number(arg));
      const used = process.cpuUsage(before);
      editCpu = (used.user + used.system) / 1000 / (performance.now() - wall);
      console.log("end");
      const seconds = (lastReceipt - firstSend) / 1000;
      const result = JSON.stringify({
        clients: peers.length,
        documents: rooms.length,
        ...got,
        deliveries,
        deliveries_per_s: seconds > 0 ? deliveries / seconds : null,
        hist: Object.fromEntries(hist),
        worst_per_second: Array.from(worst, (v) => v ?? null),
        client_cpu_share: editCpu, // this process's CPU time / wall time while editing
        client_cpu_s: (used.user + used.system) / 1e6,
        errors,
        error_kinds: errorKinds,
      });
      for (const p of peers) p.provider.destroy();
      // A pipe is written asynchronously: exit only once the (large) line is out.
      process.stdout.write(result + "\n", () => process.exit(0));
    }
  } catch (err) {
    console.log(JSON.stringify({ error: String(err), errors, error_kinds: errorKinds }));
    process.exit(1);
  }
}
