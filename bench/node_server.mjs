// The Node.js baseline of `nox -s bench`: a small Socket.IO server doing the same work as
// Zizany for the bench's scenarios — the same events and payloads (spec/asyncapi.yaml),
// the same cookie (`connect.sid`, itsdangerous-signed, looked up as SHA-256 in `sessions`),
// the same rooms and the same tables (the bench migrates and seeds them with Zizany's code).
//
//   node bench/node_server.mjs --port 4100 --db sqlite:/tmp/x.db | postgresql://...
//
// Per socket, events are handled one at a time in arrival order, as Zizany does.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 === 0 ? [...acc, [v.replace(/^--/, ""), a[i + 1]]] : acc), []),
);
const port = Number(args.port);
const dbUrl = args.db;
const secret = process.env.ZIZANY_SECRET_KEY;
if (!port || !dbUrl || !secret) throw new Error("usage: --port N --db URL (and ZIZANY_SECRET_KEY)");

// ---- the database: SQLite (better-sqlite3, synchronous) or PostgreSQL (pg pool) ---------
let db;
if (dbUrl.startsWith("sqlite:")) {
  const { default: Database } = await import("better-sqlite3");
  const conn = new Database(dbUrl.slice("sqlite:".length));
  conn.pragma("journal_mode = WAL");
  conn.pragma("synchronous = NORMAL");
  conn.pragma("foreign_keys = ON");
  conn.pragma("busy_timeout = 5000");
  const cache = new Map();
  const prep = (sql) => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = conn.prepare(sql)));
    return s;
  };
  const stamp = (d) => d.toISOString().replace("T", " ").replace("Z", "000");
  db = {
    kind: "sqlite",
    one: async (sql, params) => prep(sql).get(...params) ?? null,
    all: async (sql, params) => prep(sql).all(...params),
    insertMessage: async (channelId, userId, content, now) =>
      prep(
        "INSERT INTO messages (channel_id, user_id, content, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
      ).get(channelId, userId, content, stamp(now), stamp(now)).id,
  };
} else {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: dbUrl, max: 15 });
  const numbered = new Map();
  const toPg = (sql) => {
    let out = numbered.get(sql);
    if (!out) {
      let i = 0;
      numbered.set(sql, (out = sql.replace(/\?/g, () => `$${++i}`)));
    }
    return out;
  };
  const q = (sql, params) => pool.query(toPg(sql), params);
  db = {
    kind: "postgresql",
    one: async (sql, params) => (await q(sql, params)).rows[0] ?? null,
    all: async (sql, params) => (await q(sql, params)).rows,
    insertMessage: async (channelId, userId, content, now) =>
      (
        await q(
          "INSERT INTO messages (channel_id, user_id, content, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
          [channelId, userId, content, now, now],
        )
      ).rows[0].id,
  };
}

// ---- sessions: the itsdangerous Signer (HMAC-SHA256, django-concat key) -------------------
const signerKey = createHash("sha256").update("zizany.session-cookie" + "signer" + secret).digest();
function unsign(value) {
  const dot = value.lastIndexOf(".");
  if (dot < 0) return null;
  const sid = value.slice(0, dot);
  const want = createHmac("sha256", signerKey).update(sid).digest("base64url");
  const got = value.slice(dot + 1);
  if (want.length !== got.length || !timingSafeEqual(Buffer.from(want), Buffer.from(got))) return null;
  return /^[A-Za-z0-9_-]{16,128}$/.test(sid) ? sid : null;
}
function cookieValue(header) {
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === "connect.sid") return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}
async function principal(cookieHeader) {
  const raw = cookieValue(cookieHeader);
  const sid = raw && unsign(raw);
  if (!sid) return null;
  const key = createHash("sha256").update(sid).digest("hex");
  const row = await db.one(
    "SELECT s.expires_at AS expires_at, u.id AS id, u.username AS username FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?",
    [key],
  );
  if (!row) return null;
  const expires = row.expires_at instanceof Date ? row.expires_at : new Date(String(row.expires_at).replace(" ", "T") + "Z");
  if (expires <= new Date()) return null;
  return { userId: Number(row.id), username: row.username, sessionId: sid };
}

// ---- the Socket.IO server ----------------------------------------------------------------
const httpServer = createServer((req, res) => {
  res.writeHead(404).end();
});
const io = new Server(httpServer, { transports: ["polling", "websocket"], serveClient: false });
const socketsByUser = new Map(); // presence, in memory as in Zizany's single process

async function announcePresence(serverId) {
  const members = await db.all("SELECT user_id FROM memberships WHERE server_id = ?", [serverId]);
  const online = members.map((m) => Number(m.user_id)).filter((id) => socketsByUser.has(id)).sort((a, b) => a - b);
  io.to(`server:${serverId}`).emit("presence:update", { serverId, onlineUserIds: online });
}
async function announcePresenceOf(userId) {
  const rows = await db.all("SELECT server_id FROM memberships WHERE user_id = ?", [userId]);
  for (const r of rows.map((x) => Number(x.server_id)).sort((a, b) => a - b)) await announcePresence(r);
}

const isId = (v) => Number.isInteger(v) && v >= 1;
function fail(socket, event, code, message, ack) {
  const errorEvent = { E_VALIDATION: "error:validation", E_FORBIDDEN: "error:permission", E_CHANNEL_NOT_FOUND: "error:not_found" }[code] ?? "error:internal";
  socket.emit(errorEvent, { code, event, message });
  ack?.({ ok: false, code, message });
}

const handlers = {
  async "server:join"(socket, p, ack) {
    if (!p || !isId(p.serverId) || Object.keys(p).length !== 1) return fail(socket, "server:join", "E_VALIDATION", "invalid server:join payload", ack);
    const role = await db.one("SELECT role FROM memberships WHERE server_id = ? AND user_id = ?", [p.serverId, socket.data.user.userId]);
    if (!role) return fail(socket, "server:join", "E_FORBIDDEN", `not a member of server ${p.serverId}`, ack);
    socket.join(`server:${p.serverId}`);
    socket.emit("server:joined", { serverId: p.serverId });
    await announcePresence(p.serverId);
    ack?.({ ok: true, serverId: p.serverId });
  },
  async "channel:join"(socket, p, ack) {
    if (!p || !isId(p.channelId) || Object.keys(p).length !== 1) return fail(socket, "channel:join", "E_VALIDATION", "invalid channel:join payload", ack);
    const access = await channelAccess(p.channelId, socket.data.user.userId);
    if (!access) return fail(socket, "channel:join", "E_CHANNEL_NOT_FOUND", `channel ${p.channelId} not found`, ack);
    if (!access.role) return fail(socket, "channel:join", "E_FORBIDDEN", "not a member", ack);
    socket.join(`channel:${p.channelId}`);
    socket.emit("channel:joined", { channelId: p.channelId });
    ack?.({ ok: true, channelId: p.channelId });
  },
  async "message:create"(socket, p, ack) {
    const ok =
      p && isId(p.channelId) && typeof p.content === "string" && p.content.length >= 1 && p.content.length <= 4000 && /\S/.test(p.content) && Object.keys(p).length === 2;
    if (!ok) return fail(socket, "message:create", "E_VALIDATION", "invalid message:create payload", ack);
    const { userId, username } = socket.data.user;
    const access = await channelAccess(p.channelId, userId);
    if (!access) return fail(socket, "message:create", "E_CHANNEL_NOT_FOUND", `channel ${p.channelId} not found`, ack);
    if (!access.role) return fail(socket, "message:create", "E_FORBIDDEN", "not a member", ack);
    const now = new Date();
    const content = p.content.trim();
    const id = await db.insertMessage(p.channelId, userId, content, now);
    const at = now.toISOString();
    const message = { id: Number(id), channel_id: p.channelId, content, created_at: at, updated_at: at, user: { id: userId, username } };
    io.to(`channel:${p.channelId}`).emit("message:new", message);
    ack?.({ ok: true, message });
  },
};

async function channelAccess(channelId, userId) {
  return db.one(
    "SELECT c.id AS id, m.role AS role FROM channels c LEFT JOIN memberships m ON m.server_id = c.server_id AND m.user_id = ? WHERE c.id = ?",
    [userId, channelId],
  );
}

io.use(async (socket, next) => {
  try {
    const user = await principal(socket.handshake.headers.cookie);
    if (!user) return next(new Error("E_UNAUTHORIZED"));
    socket.data.user = user;
    next();
  } catch (err) {
    console.error(err);
    next(new Error("E_INTERNAL"));
  }
});

io.on("connection", (socket) => {
  const { userId } = socket.data.user;
  let chain = Promise.resolve(); // one event at a time per socket, in arrival order
  const run = (fn) => {
    chain = chain.then(fn).catch((err) => console.error(err));
    return chain;
  };
  const first = !socketsByUser.has(userId);
  if (first) socketsByUser.set(userId, new Set());
  socketsByUser.get(userId).add(socket.id);
  if (first) run(() => announcePresenceOf(userId));
  for (const [event, handler] of Object.entries(handlers)) {
    socket.on(event, (payload, ack) => {
      run(() => handler(socket, payload, typeof ack === "function" ? ack : undefined)).catch(() => {});
    });
  }
  socket.on("disconnect", () => {
    run(async () => {
      const set = socketsByUser.get(userId);
      set?.delete(socket.id);
      if (set && set.size === 0) {
        socketsByUser.delete(userId);
        await announcePresenceOf(userId);
      }
    });
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`node baseline on ${port} (${db.kind})`));
