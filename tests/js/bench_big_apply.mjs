// The reference for bench/big_document.py: Yjs itself (what y-leveldb, y-socket.io's own
// persistence, does on load) turning N stored updates into a document.
// Usage: node bench_big_apply.mjs <file of updates: uint32 LE length + bytes, repeated>
//        [merge limit: merge only this many updates or fewer, default 20000]
// Prints one JSON line: ms to apply them one by one into a Y.Doc, to Y.mergeUpdates them
// all, and to encode the loaded document (what a sync-step-1 answer sends). The event
// loop is blocked for each whole step (all of it is synchronous).
import { readFileSync } from "node:fs";
import * as Y from "yjs";

const raw = readFileSync(process.argv[2]);
const updates = [];
for (let at = 0; at < raw.length; ) {
  const length = raw.readUInt32LE(at);
  updates.push(raw.subarray(at + 4, at + 4 + length));
  at += 4 + length;
}
let t = performance.now();
const doc = new Y.Doc();
for (const update of updates) Y.applyUpdate(doc, update);
const applyMs = performance.now() - t;
t = performance.now();
const state = Y.encodeStateAsUpdate(doc);
const encodeMs = performance.now() - t;
// Y.mergeUpdates grows faster than linearly (100,000 keystrokes took minutes): skipped above
// the limit.
const limit = Number(process.argv[3] ?? 20000);
let mergeMs = null;
let merged = [];
if (updates.length <= limit) {
  t = performance.now();
  merged = Y.mergeUpdates(updates);
  mergeMs = performance.now() - t;
}
console.log(JSON.stringify({
  updates: updates.length,
  applyMs,
  encodeMs,
  mergeMs,
  stateBytes: state.length,
  mergedBytes: merged.length,
  text: doc.getText("content").toString().length,
}));
