// A small Zizany client in TypeScript on the official socket.io-client, typed by the
// declarations generated from spec/asyncapi.yaml (generated/typescript/zizany-events.d.ts).
// It logs in over REST, connects with the session cookie, joins a server and a channel,
// sends a message and prints the messages of the channel as they arrive.
//
// Type-check it: npx tsc -p clients/typescript   (tests/docs/test_typescript.py does, strict)
import { io, type Socket } from "socket.io-client";
import type {
  AckError,
  AckOf,
  ClientToServerEvents,
  Message,
  MessageCreate,
  ServerToClientEvents,
  TypingUpdate,
} from "../../generated/typescript/zizany-events.js";

export type ZizanySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Logs in with `POST /api/auth/login`; returns the `connect.sid=...` cookie pair. */
export async function login(baseUrl: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) {
    throw new Error(`login failed: HTTP ${response.status}`);
  }
  const cookie = response.headers
    .getSetCookie()
    .map((header) => header.split(";")[0] ?? "")
    .find((pair) => pair.startsWith("connect.sid="));
  if (cookie === undefined) {
    throw new Error("the login answer set no connect.sid cookie");
  }
  return cookie;
}

/**
 * Connects with the session cookie. In Node.js the cookie goes in a header; in a browser,
 * pass `{ withCredentials: true }` instead and the browser sends the cookie itself (the
 * page's origin must be one of the server's allowed origins).
 */
export function connect(baseUrl: string, cookie: string): ZizanySocket {
  return io(baseUrl, { transports: ["websocket"], extraHeaders: { Cookie: cookie } });
}

function failed(event: string, reply: AckError): Error {
  return new Error(`${event} failed: ${reply.code} (${reply.message})`);
}

/** Joins a server and one of its channels, sends `content`, returns the stored message. */
export async function chat(
  socket: ZizanySocket,
  serverId: number,
  channelId: number,
  content: string,
): Promise<Message> {
  socket.on("message:new", (message: Message) => {
    console.log(`#${message.channel_id} ${message.user.username}: ${message.content}`);
  });
  socket.on("typing:update", (update: TypingUpdate) => {
    console.log(`${update.username} ${update.isTyping ? "is typing" : "stopped typing"}`);
  });
  socket.on("presence:update", ({ serverId: id, onlineUserIds }) => {
    console.log(`server ${id}: ${onlineUserIds.length} online`);
  });
  socket.on("error:rate_limited", (error) => {
    console.warn(`slow down: retry in ${error.retryAfterMs} ms`);
  });

  const joined = await socket.emitWithAck("server:join", { serverId });
  if (!joined.ok) {
    throw failed("server:join", joined);
  }
  // With `.timeout(ms)` socket.io-client's declarations lose the reply type: name it with AckOf.
  const entered: AckOf<"channel:join"> = await socket
    .timeout(5000)
    .emitWithAck("channel:join", { channelId });
  if (!entered.ok) {
    throw failed("channel:join", entered);
  }
  socket.emit("typing:start", { channelId }, (reply) => {
    if (!reply.ok) console.warn(`typing:start: ${reply.code}`);
  });
  const draft: MessageCreate = { channelId, content };
  const created = await socket.emitWithAck("message:create", draft);
  if (!created.ok) {
    throw failed("message:create", created);
  }
  return created.message;
}

/** Logs in, connects, says hello in a channel and disconnects. */
export async function main(
  baseUrl: string,
  email: string,
  password: string,
  serverId: number,
  channelId: number,
): Promise<void> {
  const socket = connect(baseUrl, await login(baseUrl, email, password));
  try {
    const message = await chat(socket, serverId, channelId, "Hello from TypeScript");
    console.log(`stored as message ${message.id} at ${message.created_at}`);
  } finally {
    socket.disconnect();
  }
}
