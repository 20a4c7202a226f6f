// End-to-end check with the official JavaScript client (socket.io-client from npm).
// Usage: node js_client.mjs URL COOKIE SERVER_ID CHANNEL_ID
// Prints one JSON object per line: the refused connect, "ready", then the message:new payload.
import { io } from "socket.io-client";

const [url, cookie, serverId, channelId] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const timer = setTimeout(() => { out({ event: "timeout" }); process.exit(2); }, 20000);

const anonymous = io(url, { transports: ["websocket"], reconnection: false });
anonymous.on("connect_error", (err) => {
  out({ event: "connect_error", message: err.message });
  anonymous.close();
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    extraHeaders: { Cookie: cookie },
  });
  socket.on("connect_error", (e) => { out({ event: "unexpected_connect_error", message: e.message }); process.exit(1); });
  socket.on("connect", async () => {
    const joinedServer = await socket.emitWithAck("server:join", { serverId: Number(serverId) });
    const joinedChannel = await socket.emitWithAck("channel:join", { channelId: Number(channelId) });
    out({ event: "ready", acks: [joinedServer, joinedChannel] });
  });
  socket.on("message:new", (message) => {
    out({ event: "message:new", payload: message });
    clearTimeout(timer);
    socket.close();
  });
});
anonymous.on("connect", () => { out({ event: "unexpected_connect" }); process.exit(1); });
