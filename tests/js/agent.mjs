// Drives real npm clients (yjs, y-socket.io, socket.io-client) for the Python tests.
// Reads one JSON command per line on stdin: {id, cmd, ...args}; answers {id, result} or
// {id, error} on stdout. Each named client is a Y.Doc with a SocketIOProvider.
import readline from "node:readline";
import { io } from "socket.io-client";
import { SocketIOProvider } from "y-socket.io";
import * as Y from "yjs";

const clients = new Map();
const sockets = new Map();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function client(name) {
  const c = clients.get(name);
  if (!c) throw new Error(`no client ${name}`);
  return c;
}

const commands = {
  async connect({ name, url, room, token, timeout = 10000 }) {
    const doc = new Y.Doc();
    const provider = new SocketIOProvider(url, room, doc, {
      auth: token ? { token } : {},
      disableBc: true,
    });
    const state = { doc, provider, errors: [], syncErrors: [], received: 0, connects: 0 };
    provider.socket.on("connect", () => { state.connects += 1; });
    provider.socket.on("sync-error", (e) => state.syncErrors.push(e));
    provider.socket.on("sync-update", () => { state.received += 1; });
    provider.socket.on("connect_error", (e) => state.errors.push(e.message));
    clients.set(name, state);
    await until(() => provider.synced || state.errors.length > 0, timeout, `${name} to sync`);
    if (state.errors.length) provider.destroy();
    return { synced: provider.synced, errors: state.errors, clientId: doc.clientID };
  },
  insert({ name, index, text }) {
    const t = client(name).doc.getText("content");
    t.insert(index === -1 ? t.length : Math.min(index, t.length), text);
    return true;
  },
  text({ name }) {
    return client(name).doc.getText("content").toString();
  },
  async waitText({ name, text, timeout = 10000 }) {
    const t = client(name).doc.getText("content");
    await until(() => t.toString() === text, timeout, `${name} to read ${JSON.stringify(text)}`);
    return true;
  },
  async waitLength({ name, length, timeout = 10000 }) {
    const t = client(name).doc.getText("content");
    await until(() => t.length >= length, timeout, `${name} to reach length ${length}`);
    return t.toString();
  },
  startTyping({ name, prefix, intervalMs = 5 }) {
    const c = client(name);
    let n = 0;
    c.typing = setInterval(() => {
      c.doc.getText("content").insert(c.doc.getText("content").length, `<${prefix}${n++}>`);
    }, intervalMs);
    return true;
  },
  stopTyping({ name }) {
    const c = client(name);
    clearInterval(c.typing);
    return true;
  },
  setMap({ name, key, value }) {
    client(name).doc.getMap("meta").set(key, value);
    return true;
  },
  getMap({ name, key }) {
    return client(name).doc.getMap("meta").get(key) ?? null;
  },
  awareness({ name, state }) {
    client(name).provider.awareness.setLocalStateField("user", state);
    return true;
  },
  peers({ name }) {
    const c = client(name);
    const others = [];
    c.provider.awareness.getStates().forEach((value, key) => {
      if (key !== c.doc.clientID && value.user) others.push(value.user);
    });
    return others;
  },
  syncErrors({ name }) {
    return client(name).syncErrors;
  },
  connects({ name }) {
    return client(name).connects;
  },
  connected({ name }) {
    return client(name).provider.socket.connected;
  },
  async disconnect({ name }) {
    client(name).provider.disconnect();
    return true;
  },
  async reconnect({ name, timeout = 10000 }) {
    const c = client(name);
    c.provider.connect();
    await until(() => c.provider.synced, timeout, `${name} to resync`);
    return true;
  },
  close({ name }) {
    const c = clients.get(name);
    if (c) c.provider.destroy();
    clients.delete(name);
    return true;
  },
  // A bare socket.io-client on a document namespace, to send what no Yjs client would.
  async rawConnect({ name, url, namespace, token, timeout = 10000 }) {
    const socket = io(`${url}${namespace}`, { auth: { token }, transports: ["websocket"], forceNew: true });
    const state = { socket, errors: [], syncErrors: [] };
    socket.on("connect_error", (e) => state.errors.push(e.message));
    socket.on("sync-error", (e) => state.syncErrors.push(e));
    sockets.set(name, state);
    await until(() => socket.connected || state.errors.length > 0, timeout, `${name} to connect`);
    if (!socket.connected) socket.close();
    return { connected: socket.connected, errors: state.errors };
  },
  async rawEmit({ name, event, bytes, string }) {
    const s = sockets.get(name);
    s.socket.emit(event, string !== undefined ? string : Uint8Array.from(bytes));
    await sleep(200);
    return { syncErrors: s.syncErrors, connected: s.socket.connected };
  },
  async rawBurst({ name, event, bytes, count }) {
    const s = sockets.get(name);
    for (let i = 0; i < count; i++) s.socket.emit(event, Uint8Array.from(bytes));
    await sleep(300);
    return { syncErrors: s.syncErrors, connected: s.socket.connected };
  },
  async rawSyncStep1({ name }) {
    const s = sockets.get(name);
    const update = await s.socket.timeout(5000).emitWithAck("sync-step-1", new Uint8Array([0]));
    const doc = new Y.Doc();
    Y.applyUpdate(doc, new Uint8Array(update));
    return doc.getText("content").toString();
  },
  rawClose({ name }) {
    const s = sockets.get(name);
    if (s) s.socket.close();
    sockets.delete(name);
    return true;
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const { id, cmd, ...args } = JSON.parse(line);
  try {
    const result = await commands[cmd](args);
    process.stdout.write(JSON.stringify({ id, result }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, error: String(error?.message ?? error) }) + "\n");
  }
});
rl.on("close", () => process.exit(0));
