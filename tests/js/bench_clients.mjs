// Benchmark clients: N real y-socket.io providers in one document, each inserting markers
// at a steady pace. Every remote insert's latency (send → applied at a receiver) is
// measured in this one process, so clocks agree. Prints one JSON line of results.
// Usage: node bench_clients.mjs '{"url","room","token","clients","intervalMs","durationMs"}'
import { SocketIOProvider } from "y-socket.io";
import * as Y from "yjs";

const opts = JSON.parse(process.argv[2]);
const { url, room, token, clients, intervalMs, durationMs } = opts;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MARK = /\u0001(\d+)\u0002/g;

const sent = new Map();
const latencies = [];
let deliveries = 0;
let lastReceipt = 0;
const peers = [];

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
        const t0 = sent.get(Number(match[1]));
        if (t0 === undefined) continue;
        latencies.push(now - t0);
        deliveries += 1;
        lastReceipt = now;
      }
    }
  });
  peers.push({ doc, provider, text });
}
const deadline = Date.now() + 30000;
while (!peers.every((p) => p.provider.synced)) {
  if (Date.now() > deadline) {
    console.log(JSON.stringify({ error: "clients did not sync" }));
    process.exit(1);
  }
  await sleep(20);
}
await sleep(500);

let nextId = 0;
const editsPerClient = Math.max(1, Math.round(durationMs / intervalMs));
const start = performance.now();
await Promise.all(peers.map(async (peer) => {
  await sleep(Math.random() * intervalMs); // spread clients over the interval
  for (let e = 0; e < editsPerClient; e++) {
    const id = nextId++;
    sent.set(id, performance.now());
    peer.text.insert(peer.text.length, `\u0001${id}\u0002`);
    await sleep(intervalMs);
  }
}));
const expected = nextId * (clients - 1);
const waitUntil = Date.now() + 30000;
while (deliveries < expected && Date.now() < waitUntil) await sleep(20);

latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null;
const seconds = (lastReceipt - start) / 1000;
console.log(JSON.stringify({
  clients, edits: nextId, expected, deliveries,
  p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: latencies.at(-1) ?? null,
  deliveries_per_s: deliveries / seconds,
}));
for (const p of peers) p.provider.destroy();
process.exit(0);
