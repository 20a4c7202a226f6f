// A socket.io-client (Node) that stays connected to a Zizany process and reports, one JSON
// object per line, each connect and each disconnect with its reason; it rejoins the channel
// after every connect. Used by tests/scaleout/test_client_resume.py to check that a
// connection dropped after a pub/sub gap makes the official client reconnect by itself.
// Arguments: the JSON of {url, cookie, channelId, seconds}.
import { io } from "socket.io-client";

const { url, cookie, channelId, seconds } = JSON.parse(process.argv[2]);
const say = (record) => console.log(JSON.stringify(record));
const socket = io(url, {
  transports: ["websocket"],
  extraHeaders: { Cookie: `connect.sid=${cookie}` },
  reconnectionDelay: 200,
});
socket.on("connect", async () => {
  const reply = await socket.timeout(5000).emitWithAck("channel:join", { channelId });
  say({ event: "connect", joined: reply.ok === true });
});
socket.on("disconnect", (reason) => say({ event: "disconnect", reason }));
socket.on("message:new", (message) => say({ event: "message:new", id: message.id }));
setTimeout(() => {
  socket.disconnect();
  say({ event: "done" });
  process.exit(0);
}, seconds * 1000);
