// The generator's ceiling for `nox -s bench`: the cheapest server that speaks enough Engine.IO 4
// / Socket.IO 5 for the bench's fan-out (WebSocket transport only, no database, no auth).
// It answers `server:join` and `channel:join` (ack ok, joins the room) and `message:create`
// (an id, the `message:new` frame built once and written to every socket of the channel's
// room with `ws`, then the ack). Measured against it, the load generator's own limit.
//
//   node bench/ceiling_server.mjs --port 4101
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const portIndex = process.argv.indexOf("--port");
const port = Number(process.argv[portIndex + 1]);
if (portIndex < 0 || !port) throw new Error("usage: --port N");

const sid = () => randomBytes(12).toString("base64url");
const open = () =>
  `0${JSON.stringify({ sid: sid(), upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1000000 })}`;

const httpServer = createServer((req, res) => {
  // Readiness probe of the bench (GET /socket.io/?EIO=4&transport=polling).
  if (req.url.startsWith("/socket.io/")) res.writeHead(200, { "Content-Type": "text/plain" }).end(open());
  else res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
httpServer.on("upgrade", (req, socket, head) => {
  if (!req.url.startsWith("/socket.io/")) return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws));
});

const rooms = new Map(); // channel id -> Set of ws
let nextId = 1;

function ack(ws, id, reply) {
  if (id !== "") ws.send(`43${id}${JSON.stringify([reply])}`);
}

wss.on("connection", (ws) => {
  const joined = new Set();
  ws.send(open());
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === "2") return ws.send("3");
    if (text === "3") return;
    if (text.startsWith("40")) return ws.send(`40${JSON.stringify({ sid: sid() })}`);
    if (text.startsWith("41")) return ws.close();
    if (!text.startsWith("42")) return;
    let i = 2;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    const id = text.slice(2, i);
    const [event, p] = JSON.parse(text.slice(i));
    if (event === "server:join") return ack(ws, id, { ok: true, serverId: p.serverId });
    if (event === "channel:join") {
      let room = rooms.get(p.channelId);
      if (!room) rooms.set(p.channelId, (room = new Set()));
      room.add(ws);
      joined.add(p.channelId);
      return ack(ws, id, { ok: true, channelId: p.channelId });
    }
    if (event === "message:create") {
      const at = new Date().toISOString();
      const message = {
        id: nextId++,
        channel_id: p.channelId,
        content: p.content,
        created_at: at,
        updated_at: at,
        user: { id: 1, username: "u1" },
      };
      const frame = Buffer.from(`42${JSON.stringify(["message:new", message])}`);
      for (const peer of rooms.get(p.channelId) ?? []) peer.send(frame, { binary: false });
      return ack(ws, id, { ok: true, message });
    }
  });
  // A client's protocol error ends that connection, not the server.
  ws.on("error", () => ws.terminate());
  ws.on("close", () => {
    for (const c of joined) rooms.get(c)?.delete(ws);
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`ceiling server on ${port}`));
