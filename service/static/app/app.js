// Zizany's reference web client: the example a client team copies.
//
// One ES module, no build step. Data comes from the REST API (`/api`, spec/openapi.yaml);
// live events from Socket.IO (`/socket.io`, spec/asyncapi.yaml), with the official
// socket.io-client vendored next to this file. The browser keeps the session cookie
// (`connect.sid`, HttpOnly) and sends it with every request and with the socket handshake.
// Everything the server sends is put on the page with textContent, never as HTML.
import { io } from "/app/vendor/socket.io.esm.min.js";

const PAGE_SIZE = 50;
const TYPING_IDLE_MS = 3000; // send typing:stop after this long without a keystroke

const $ = (id) => document.getElementById(id);

const state = {
  me: null, // User
  socket: null,
  servers: [], // Server (GET /api/servers)
  serverId: null,
  channels: [],
  channelId: null,
  members: new Map(), // userId -> username, of the current server
  online: [], // userIds, from presence:update
  messages: new Map(), // id -> Message, of the current channel
  nextBefore: null, // the cursor of the previous page, null at the start of the channel
  typists: new Map(), // userId -> username, typing in the current channel
  typing: false, // whether we told the server we are typing
  typingTimer: null,
  editing: null, // the id of the message being edited
};

// ---- REST ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? "E_HTTP";
  }
}

/** Calls the REST API; resolves to the parsed body (null for 204), rejects with ApiError. */
async function api(method, path, body) {
  const response = await fetch(`/api${path}`, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---- Socket.IO -------------------------------------------------------------------------

/** Emits a client event and resolves to its ack; rejects with the ack's code when not ok. */
async function emit(event, payload) {
  const reply = await state.socket.timeout(5000).emitWithAck(event, payload);
  if (!reply.ok) throw new ApiError(0, reply);
  return reply;
}

function connectSocket() {
  // Same origin: no URL needed, and the browser sends the cookie with the handshake.
  const socket = io({ withCredentials: true });
  state.socket = socket;
  let connectedBefore = false;
  socket.on("connect", () => {
    setStatus("online");
    // A new connection starts with no rooms: after a reconnect, join again what we were
    // looking at and reload the channel's newest page (see the README's reconnect recipe
    // for a client that must not miss a message). The first time, loadServers joins.
    // The server also drops the connection when it may have missed events for us (a
    // Redis gap between its processes): socket.io reconnects and we land here too.
    if (connectedBefore && state.serverId !== null) {
      enterServer(state.serverId, { rejoin: true }).catch(showError);
    }
    connectedBefore = true;
  });
  socket.on("disconnect", () => setStatus("offline, reconnecting…"));
  socket.on("connect_error", (error) => {
    setStatus(`cannot connect: ${error.message}`);
    if (error.message === "E_UNAUTHORIZED") signedOut();
  });

  socket.on("message:new", (message) => {
    if (message.channel_id !== state.channelId) return;
    state.messages.set(message.id, message);
    renderMessages({ scroll: true });
  });
  socket.on("message:updated", (message) => {
    if (!state.messages.has(message.id)) return;
    state.messages.set(message.id, message);
    renderMessages();
  });
  socket.on("message:deleted", ({ messageId }) => {
    if (state.messages.delete(messageId)) renderMessages();
  });
  socket.on("typing:update", ({ channelId, userId, username, isTyping }) => {
    if (channelId !== state.channelId) return;
    if (isTyping) state.typists.set(userId, username);
    else state.typists.delete(userId);
    renderTyping();
  });
  socket.on("presence:update", ({ serverId, onlineUserIds }) => {
    if (serverId !== state.serverId) return;
    state.online = onlineUserIds;
    renderOnline();
  });
  for (const event of ["server:member_joined", "server:member_left"]) {
    socket.on(event, ({ serverId }) => {
      if (serverId === state.serverId) loadMembers().catch(showError);
    });
  }
  for (const event of ["channel:created", "channel:updated", "channel:deleted"]) {
    socket.on(event, ({ server_id, serverId }) => {
      if ((server_id ?? serverId) === state.serverId) loadChannels().catch(showError);
    });
  }
  for (const event of ["error:permission", "error:not_found", "error:rate_limited"]) {
    socket.on(event, (error) => showError(new ApiError(0, error)));
  }
}

// ---- Servers, channels, history --------------------------------------------------------

async function loadServers() {
  state.servers = (await api("GET", "/servers")).servers;
  renderServers();
  const first = state.servers.find((server) => server.role !== null);
  if (first !== undefined) await enterServer(first.id);
}

async function enterServer(serverId, { rejoin = false } = {}) {
  if (!rejoin && state.serverId !== null && state.serverId !== serverId) {
    await emit("server:leave", { serverId: state.serverId });
  }
  state.serverId = serverId;
  renderServers();
  await emit("server:join", { serverId }); // the room then gets presence:update
  await loadMembers();
  await loadChannels();
  const channelId = state.channels.some((c) => c.id === state.channelId)
    ? state.channelId
    : state.channels[0]?.id;
  if (channelId !== undefined) await enterChannel(channelId, { rejoin });
}

async function joinServer(serverId) {
  await api("POST", `/servers/${serverId}/join`, {});
  await loadServers();
  await enterServer(serverId);
}

async function loadMembers() {
  const { members } = await api("GET", `/servers/${state.serverId}/members`);
  state.members = new Map(members.map((m) => [m.user.id, m.user.username]));
  state.online = members.filter((m) => m.online).map((m) => m.user.id);
  renderOnline();
}

async function loadChannels() {
  state.channels = (await api("GET", `/servers/${state.serverId}/channels`)).channels;
  renderChannels();
}

async function enterChannel(channelId, { rejoin = false } = {}) {
  if (!rejoin && state.channelId !== null && state.channelId !== channelId) {
    stopTyping();
    await emit("channel:leave", { channelId: state.channelId });
  }
  state.channelId = channelId;
  state.typists.clear();
  renderChannels();
  renderTyping();
  // Join first, then read: a message stored in between arrives live and is deduplicated
  // by id in state.messages.
  await emit("channel:join", { channelId });
  state.messages = new Map();
  await loadOlder();
  renderMessages({ scroll: true });
  $("composer-input").disabled = false;
  $("composer-send").disabled = false;
}

/** One page of history, older than what is shown (the newest page when nothing is). */
async function loadOlder() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (state.messages.size > 0) {
    if (state.nextBefore === null) return;
    params.set("before", String(state.nextBefore));
  }
  const page = await api("GET", `/channels/${state.channelId}/messages?${params}`);
  for (const message of page.messages) state.messages.set(message.id, message);
  state.nextBefore = page.next_before;
  renderMessages();
}

// ---- Sending, typing, editing ----------------------------------------------------------

function typed() {
  if (state.editing !== null) return;
  if (!state.typing) {
    state.typing = true;
    emit("typing:start", { channelId: state.channelId }).catch(showError);
  }
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (!state.typing) return;
  state.typing = false;
  emit("typing:stop", { channelId: state.channelId }).catch(showError);
}

async function submit(event) {
  event.preventDefault();
  const input = $("composer-input");
  const content = input.value.trim();
  if (content === "") return;
  if (state.editing !== null) {
    await emit("message:update", { messageId: state.editing, content });
    cancelEdit();
  } else {
    stopTyping();
    // The message comes back to this socket too, as message:new: it is shown from there.
    await emit("message:create", { channelId: state.channelId, content });
    input.value = "";
  }
}

function startEdit(message) {
  stopTyping();
  state.editing = message.id;
  $("composer-input").value = message.content;
  $("composer-input").focus();
  $("composer-send").textContent = "Save";
  $("composer-cancel").hidden = false;
}

function cancelEdit() {
  state.editing = null;
  $("composer-input").value = "";
  $("composer-send").textContent = "Send";
  $("composer-cancel").hidden = true;
}

// ---- Rendering (textContent only) ------------------------------------------------------

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function button(text, onClick, attributes = {}) {
  const node = element("button", text, { type: "button", ...attributes });
  node.addEventListener("click", () => Promise.resolve(onClick()).catch(showError));
  return node;
}

function renderServers() {
  $("servers").replaceChildren(
    ...state.servers.map((server) => {
      const item = element("li");
      if (server.role === null) {
        item.append(button(`${server.name} (join)`, () => joinServer(server.id)));
      } else {
        const current = String(server.id === state.serverId);
        item.append(button(server.name, () => enterServer(server.id), { "aria-current": current }));
      }
      return item;
    }),
  );
}

function renderChannels() {
  $("channels").replaceChildren(
    ...state.channels.map((channel) => {
      const current = String(channel.id === state.channelId);
      const item = element("li");
      item.append(button(`#${channel.name}`, () => enterChannel(channel.id), { "aria-current": current }));
      return item;
    }),
  );
  const channel = state.channels.find((c) => c.id === state.channelId);
  $("channel-title").textContent = channel === undefined ? "" : `#${channel.name}`;
}

function renderOnline() {
  $("online").replaceChildren(
    ...state.online.map((userId) => element("li", state.members.get(userId) ?? `user ${userId}`)),
  );
}

function renderTyping() {
  const names = [...state.typists.values()];
  $("typing").textContent =
    names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
}

function renderMessages({ scroll = false } = {}) {
  const list = $("messages");
  const sorted = [...state.messages.values()].sort((a, b) => a.id - b.id);
  list.replaceChildren(
    ...sorted.map((message) => {
      const item = element("li", undefined, { "data-id": String(message.id) });
      const when = new Date(message.created_at);
      item.append(
        element("time", when.toLocaleTimeString(), { datetime: message.created_at }),
        element("span", message.user.username, { class: "author" }),
        element("span", message.content, { class: "content" }),
      );
      if (message.updated_at !== message.created_at) item.append(element("span", "(edited)", { class: "edited" }));
      if (message.user.id === state.me.id) {
        const actions = element("span", undefined, { class: "actions" });
        actions.append(
          button("Edit", () => startEdit(message), { class: "edit" }),
          button("Delete", () => emit("message:delete", { messageId: message.id }), { class: "delete" }),
        );
        item.append(actions);
      }
      return item;
    }),
  );
  $("older").hidden = state.nextBefore === null;
  if (scroll) list.scrollTop = list.scrollHeight;
}

function setStatus(text) {
  $("connection").textContent = text;
}

function showError(error) {
  const text = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
  const target = state.me === null ? $("signin-error") : $("chat-error");
  target.textContent = text;
}

// ---- Signing in and out ----------------------------------------------------------------

async function signedIn(user) {
  state.me = user;
  $("signin").hidden = true;
  $("chat").hidden = false;
  $("me").textContent = user.username;
  connectSocket();
  await loadServers();
}

function signedOut() {
  state.socket?.disconnect();
  location.reload();
}

function form(id, handler) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(event.target));
    handler(values).catch(showError);
  });
}

async function start() {
  form("login-form", async (values) => signedIn((await api("POST", "/auth/login", values)).user));
  form("signup-form", async (values) => signedIn((await api("POST", "/auth/signup", values)).user));
  $("logout").addEventListener("click", () => api("POST", "/auth/logout").finally(signedOut));
  $("composer").addEventListener("submit", (event) => submit(event).catch(showError));
  $("composer-input").addEventListener("input", typed);
  $("composer-cancel").addEventListener("click", cancelEdit);
  $("older").addEventListener("click", () => loadOlder().catch(showError));
  let user;
  try {
    user = await api("GET", "/auth/me");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(error);
    $("signin").hidden = false;
    return;
  }
  await signedIn(user).catch(showError);
}

start();
