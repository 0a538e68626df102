// Closed-loop benchmark clients: N real y-socket.io providers in one document, editing as fast
// as a bounded window of unacknowledged deliveries allows. An edit is acknowledged once every
// other client has applied it; a new edit is made (by the next client in turn, so every
// client edits) whenever the deliveries still outstanding plus the N-1 the edit will need fit
// in the window (one edit is always allowed). So the load is whatever the server can carry,
// and latency is measured at that load. Every latency (send → applied at a receiver) is
// measured in this one process, so clocks agree.
//
// Prints `start` once every client is synced (the driver samples the server's CPU time),
// `end` once the last edit is delivered or the drain times out, then one JSON line of results.
// Usage: node bench_closed_loop.mjs
//   '{"url","room","token","clients","window","durationMs","maxEdits","settleMs"}'
import { SocketIOProvider } from "y-socket.io";
import * as Y from "yjs";

const opts = JSON.parse(process.argv[2]);
const { url, room, token, clients } = opts;
const durationMs = opts.durationMs ?? 5000;
const maxEdits = opts.maxEdits ?? 1e9;
const window = Math.max(opts.window ?? 2 * (clients - 1), clients - 1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK = /\u0001(\d+)\u0002/g;

const sent = new Map(); // edit id → send time
const outstanding = new Map(); // edit id → receivers still to apply it
const latencies = [];
let deliveries = 0;
let inFlight = 0; // deliveries not yet made
let lastReceipt = 0;
let nextId = 0;
let sending = true;
let pumpScheduled = false;
const peers = [];

function pump() {
  pumpScheduled = false;
  while (sending && (inFlight === 0 || inFlight + clients - 1 <= window)) {
    const id = nextId++;
    const peer = peers[id % clients];
    sent.set(id, performance.now());
    outstanding.set(id, clients - 1);
    inFlight += clients - 1;
    peer.text.insert(peer.text.length, `\u0001${id}\u0002`);
  }
}

for (let i = 0; i < clients; i++) {
  const doc = new Y.Doc();
  const provider = new SocketIOProvider(url, room, doc, { auth: { token }, disableBc: true });
  const text = doc.getText("content");
  text.observe((event) => {
    if (event.transaction.local) return;
    const now = performance.now();
    for (const op of event.delta) {
      if (typeof op.insert !== "string") continue;
      for (const match of op.insert.matchAll(MARK)) {
        const id = Number(match[1]);
        const t0 = sent.get(id);
        if (t0 === undefined) continue;
        latencies.push(now - t0);
        deliveries += 1;
        inFlight -= 1;
        lastReceipt = now;
        const left = outstanding.get(id) - 1;
        if (left === 0) outstanding.delete(id);
        else outstanding.set(id, left);
      }
    }
    // Edits are made outside the observer (a transaction inside an observer nests).
    if (sending && !pumpScheduled) {
      pumpScheduled = true;
      setImmediate(pump);
    }
  });
  peers.push({ doc, provider, text });
}
const deadline = Date.now() + 60000;
while (!peers.every((p) => p.provider.synced)) {
  if (Date.now() > deadline) {
    console.log(JSON.stringify({ error: "clients did not sync" }));
    process.exit(1);
  }
  await sleep(20);
}
// Joining costs work after "synced" too (every newcomer's awareness reaches everyone):
// edits start once that has settled, to measure editing.
await sleep(opts.settleMs ?? 500);

console.log("start");
const start = performance.now();
pump();
while (performance.now() - start < durationMs && nextId < maxEdits) await sleep(20);
sending = false;
const edits = nextId;
const expected = edits * (clients - 1);
const waitUntil = Date.now() + 30000;
while (deliveries < expected && Date.now() < waitUntil) await sleep(5);
console.log("end");

latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null;
const seconds = (lastReceipt - start) / 1000;
console.log(JSON.stringify({
  clients, window, edits, expected, deliveries,
  p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: latencies.at(-1) ?? null,
  deliveries_per_s: deliveries / seconds,
}));
for (const p of peers) p.provider.destroy();
process.exit(0);
