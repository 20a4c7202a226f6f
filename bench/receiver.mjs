// The light receiver of `nox -s bench`: thousands of raw WebSocket Engine.IO 4 / Socket.IO 5
// clients in one Node.js process (the `ws` package), so that rooms of 1,000 and 5,000
// measure the server, not the clients.
//
//   node bench/receiver.mjs        (driven by bench/ over stdin/stdout, one JSON line each)
//
// Per socket: the WebSocket handshake straight to `/socket.io/?EIO=4&transport=websocket`
// with the `Cookie` header, the server's `0{...}` open packet, our `40` connect and the
// server's `40{...}`, `server:join` / `channel:join` as events with an ack id (`42N[...]`,
// answered `43N[...]`), a pong `3` to every ping `2`, and `42["message:new",{...}]` frames
// parsed for the latency of each message (its content carries the send time, on
// CLOCK_MONOTONIC, which `process.hrtime` reads as Python's `time.monotonic` does).
//
// Commands (the same protocol as bench/loadgen.py, without `send`):
//   {"cmd":"connect","url":...,"sockets":[{"key","cookie","server"?,"channel"?}],"concurrency"}
//   {"cmd":"collect","expected":{channel:{sender:[lo,hi]}},"wait","settle"}
//   {"cmd":"close"}
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const now = () => Number(process.hrtime.bigint()) / 1e9;

class Sock {
  constructor(key, channel) {
    this.key = key;
    this.channel = channel;
    this.ws = null;
    this.nextAck = 0;
    this.acks = new Map(); // ack id -> resolve
    this.got = []; // flat: channel, id, sender, seq, latency, ... in arrival order
    this.count = 0;
    this.onConnected = null;
    this.onClosed = null;
  }

  call(event, payload, timeoutMs) {
    const id = this.nextAck++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`${event}: no ack in ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  onFrame(data) {
    const text = typeof data === "string" ? data : data.toString();
    const eio = text.charCodeAt(0);
    if (eio === 50 /* 2 ping */) {
      this.ws.send("3");
      return;
    }
    if (eio === 48 /* 0 open */) {
      this.ws.send("40");
      return;
    }
    if (eio === 49 /* 1 close */) {
      this.ws.close();
      return;
    }
    if (eio !== 52 /* 4 message */) return;
    const sio = text.charCodeAt(1);
    if (sio === 50 /* 2 event */) {
      const body = JSON.parse(text.slice(2)); // server events carry no ack id here
      if (body[0] === "message:new") this.onMessage(body[1]);
    } else if (sio === 51 /* 3 ack */) {
      let i = 2;
      while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
      const id = Number(text.slice(2, i));
      const resolve = this.acks.get(id);
      if (resolve) {
        this.acks.delete(id);
        resolve(JSON.parse(text.slice(i))[0]);
      }
    } else if (sio === 48 /* 0 connect */) {
      this.onConnected?.(null);
    } else if (sio === 52 /* 4 connect_error */) {
      this.onConnected?.(new Error(`connect_error ${text.slice(2, 200)}`));
    } else if (sio === 49 /* 1 disconnect */) {
      this.ws.close();
    }
  }

  onMessage(message) {
    const at = now();
    const content = String(message.content ?? "");
    if (!content.startsWith("bench|")) return;
    const parts = content.split("|", 4);
    this.got.push(message.channel_id, message.id, Number(parts[1]), Number(parts[2]), at - Number(parts[3]));
    this.count++;
  }
}

const socks = new Map();

async function connect(cmd) {
  const base = new URL(cmd.url);
  const target = `ws://${base.host}/socket.io/?EIO=4&transport=websocket`;
  const concurrency = Number(cmd.concurrency ?? 50);
  const times = [];
  const failures = [];
  const started = now();
  const queue = [...cmd.sockets];

  async function one(spec) {
    const sock = new Sock(Number(spec.key), spec.channel ?? null);
    const t0 = now();
    try {
      await new Promise((resolve, reject) => {
        const ws = new WebSocket(target, {
          headers: { Cookie: `connect.sid=${spec.cookie}` },
          perMessageDeflate: false,
          handshakeTimeout: 60000,
        });
        sock.ws = ws;
        const timer = setTimeout(() => reject(new Error("no Socket.IO connect in 60 s")), 60000);
        sock.onConnected = (err) => {
          clearTimeout(timer);
          sock.onConnected = null;
          if (err) reject(err);
          else resolve();
        };
        ws.on("message", (data) => sock.onFrame(data));
        ws.on("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
        ws.on("close", () => {
          clearTimeout(timer);
          sock.onClosed?.();
          reject(new Error("closed before connect"));
        });
      });
      times.push(now() - t0);
      if (spec.server != null) {
        const ack = await sock.call("server:join", { serverId: spec.server }, 60000);
        if (!ack?.ok) throw new Error(`server:join ${JSON.stringify(ack)}`);
      }
      if (spec.channel != null) {
        const ack = await sock.call("channel:join", { channelId: spec.channel }, 60000);
        if (!ack?.ok) throw new Error(`channel:join ${JSON.stringify(ack)}`);
      }
    } catch (err) {
      failures.push(`${spec.key}: ${err}`);
      sock.ws?.terminate();
      return;
    }
    socks.set(sock.key, sock);
  }

  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      while (queue.length) await one(queue.shift());
    }),
  );
  return {
    connected: cmd.sockets.length - failures.length,
    failures: failures.slice(0, 10),
    failed: failures.length,
    elapsed: now() - started,
    connect_s: times,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function collect(cmd) {
  const expected = new Map(); // channel -> Map(sender -> [lo, hi])
  for (const [c, m] of Object.entries(cmd.expected)) {
    expected.set(Number(c), new Map(Object.entries(m).map(([k, v]) => [Number(k), v])));
  }
  const want = new Map();
  for (const [key, s] of socks) {
    if (s.channel == null) continue;
    let n = 0;
    for (const [lo, hi] of expected.get(s.channel)?.values() ?? []) n += hi - lo;
    want.set(key, n);
  }
  const deadline = now() + Number(cmd.wait ?? 10);
  while (now() < deadline) {
    let all = true;
    for (const [key, n] of want) {
      if (socks.get(key).count < n) {
        all = false;
        break;
      }
    }
    if (all) break;
    await sleep(50);
  }
  await sleep(Number(cmd.settle ?? 0.2) * 1000); // let duplicates show up
  let lost = 0, dup = 0, disorder = 0, unexpected = 0, deliveries = 0, inversions = 0;
  const worst = new Map();
  const orders = new Map(); // channel -> Set of arrival-order digests
  for (const sock of socks.values()) {
    if (sock.channel == null) continue;
    const ranges = expected.get(sock.channel) ?? new Map();
    const seen = new Map();
    let lastId = 0;
    const order = [];
    const g = sock.got;
    for (let i = 0; i < g.length; i += 5) {
      const [channel, id, sender, seq, latency] = [g[i], g[i + 1], g[i + 2], g[i + 3], g[i + 4]];
      const rng = ranges.get(sender);
      if (channel !== sock.channel || !rng || !(rng[0] <= seq && seq < rng[1])) {
        unexpected++;
        continue;
      }
      deliveries++;
      if (id <= lastId) inversions++;
      lastId = id;
      order.push(id);
      let list = seen.get(sender);
      if (!list) seen.set(sender, (list = []));
      list.push(seq);
      const mkey = `${sender}:${seq}`;
      if (latency > (worst.get(mkey) ?? -1)) worst.set(mkey, latency);
    }
    for (const [sender, [lo, hi]] of ranges) {
      const seqs = seen.get(sender) ?? [];
      const distinct = new Set(seqs).size;
      dup += seqs.length - distinct;
      lost += hi - lo - distinct;
      for (let i = 1; i < seqs.length; i++) if (seqs[i] <= seqs[i - 1]) disorder++;
    }
    const digest = createHash("sha1").update(order.join(",")).digest("hex").slice(0, 16);
    let set = orders.get(sock.channel);
    if (!set) orders.set(sock.channel, (set = new Set()));
    set.add(digest);
    sock.got = [];
    sock.count = 0;
  }
  return {
    lost,
    duplicated: dup,
    out_of_order: disorder,
    unexpected,
    id_inversions: inversions,
    orders: Object.fromEntries([...orders].map(([c, s]) => [String(c), [...s].sort()])),
    deliveries,
    worst: Object.fromEntries(worst),
  };
}

async function close() {
  const closing = [];
  for (const sock of socks.values()) {
    closing.push(
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          sock.ws.terminate();
          resolve();
        }, 2000);
        sock.ws.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        sock.ws.close();
      }),
    );
  }
  await Promise.all(closing);
  socks.clear();
  return { closed: true };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  let reply;
  try {
    if (cmd.cmd === "connect") reply = await connect(cmd);
    else if (cmd.cmd === "collect") reply = await collect(cmd);
    else if (cmd.cmd === "close") reply = await close();
    else reply = { error: `unknown command ${JSON.stringify(cmd.cmd)}` };
  } catch (err) {
    reply = { error: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
  if (cmd.cmd === "close") break;
}
process.exit(0);
