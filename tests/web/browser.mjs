// Drives the web client at /app in headless Chromium (Debian's /usr/bin/chromium, through
// playwright-core: no browser download). Two browser contexts are two users: Bo signs up
// in the page and joins Ada's public server, types and sends; Ada sees the typing
// indicator, the message, the edit and the delete. A page on a foreign origin cannot
// open a socket. Prints one JSON line of what it saw; exits non-zero on the first failure.
//
// node tests/web/browser.mjs '{"base": ..., "foreign": ..., "ada": {...}, "bo": {...}, "screenshot": ...}'
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2]);
const TIMEOUT = 10_000;
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];
const seen = {};

/** Waits until the locator's text contains `text` (or, with `absent`, until no longer). */
async function waitText(locator, text, { absent = false } = {}) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const now = (await locator.allTextContents()).join("\n");
    if (now.includes(text) !== absent) return now;
    if (Date.now() > deadline) {
      throw new Error(`waited for ${absent ? "no " : ""}${JSON.stringify(text)}; have ${JSON.stringify(now)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until `check()` resolves to a truthy value; returns it. */
async function waitFor(what, check) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waited in vain for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The texts of the messages shown, oldest first. */
async function shown(page) {
  return page.locator("#messages li .content").allTextContents();
}

/** What a page sees when it opens a socket to the API with its cookies (runs in the page). */
async function probeSocket(page, base) {
  return page.evaluate(async (base) => {
    const { io } = await import(`${location.origin}/app/vendor/socket.io.esm.min.js`);
    return new Promise((resolve) => {
      const socket = io(base, { withCredentials: true, reconnection: false, timeout: 5000 });
      socket.on("connect", () => {
        socket.disconnect();
        resolve("connected");
      });
      socket.on("connect_error", (error) => resolve(`connect_error: ${error.message}`));
    });
  }, base);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
try {
  const ada = await (await browser.newContext()).newPage();
  const bo = await (await browser.newContext()).newPage();
  seen.pageErrors = [];
  for (const page of [ada, bo]) {
    page.setDefaultTimeout(TIMEOUT);
    page.on("pageerror", (error) => seen.pageErrors.push(error.message));
  }

  // Ada logs in; the newest page of history is shown, the older page on demand.
  await ada.goto(`${config.base}/app`);
  await ada.fill("#login-email", config.ada.email);
  await ada.fill("#login-password", config.ada.password);
  await ada.click("#login-button");
  await waitText(ada.locator("#channel-title"), "#general");
  const newest = `history ${config.history}`;
  seen.firstPage = await waitFor(newest, async () => {
    const texts = await shown(ada);
    return texts.at(-1) === newest && texts;
  });
  await ada.click("#older");
  seen.afterOlder = await waitFor("the older page", async () => {
    const texts = await shown(ada);
    return texts[0] === "history 1" && texts;
  });
  seen.olderHidden = await ada.locator("#older").isHidden();

  // Bo signs up in the page, then joins Ada's public server from the list.
  await bo.goto(`${config.base}/app`);
  await bo.fill("#signup-username", config.bo.username);
  await bo.fill("#signup-email", config.bo.email);
  await bo.fill("#signup-password", config.bo.password);
  await bo.click("#signup-button");
  await bo.getByRole("button", { name: `${config.server} (join)` }).click();
  await waitText(bo.locator("#channel-title"), "#general");
  await bo.locator("#composer-input:enabled").waitFor(); // joined, history loaded
  seen.presence = await waitText(ada.locator("#online"), config.bo.username);

  // Bo types: Ada sees the indicator; Bo sends: Ada sees the message, the indicator goes.
  await bo.locator("#composer-input").pressSequentially("Hello Ada", { delay: 30 });
  seen.typing = await waitText(ada.locator("#typing"), `${config.bo.username} is typing`);
  await bo.press("#composer-input", "Enter");
  await waitText(ada.locator("#messages"), "Hello Ada");
  seen.typingAfterSend = await waitText(ada.locator("#typing"), "is typing", { absent: true });

  // Bo edits the message: Ada sees the new text, marked edited.
  await bo.locator("#messages li", { hasText: "Hello Ada" }).locator("button.edit").click();
  await bo.fill("#composer-input", "Hello Ada, how is the garden?");
  await bo.press("#composer-input", "Enter");
  const edited = ada.locator("#messages li", { hasText: "how is the garden?" });
  seen.edited = await waitText(edited, "(edited)");

  // Ada answers; the conversation is kept as a screenshot.
  await ada.fill("#composer-input", "Blooming! Come and see the roses.");
  await ada.press("#composer-input", "Enter");
  await waitText(bo.locator("#messages"), "Come and see the roses.");
  await ada.screenshot({ path: config.screenshot, fullPage: true });
  seen.editButtonsOnBosMessage = await edited.locator("button").count();

  // Bo deletes the edited message: it leaves Ada's page.
  await bo.locator("#messages li", { hasText: "how is the garden?" }).locator("button.delete").click();
  await waitText(ada.locator("#messages"), "how is the garden?", { absent: true });
  seen.afterDelete = await shown(ada);
  seen.editButtons = await ada.locator("#messages li button.edit").count();
  seen.adaError = await ada.locator("#chat-error").textContent();

  // A page on a foreign origin, in Ada's context (her cookie is for this host, any port),
  // cannot open a socket nor read the REST API; the same probe from /app connects.
  seen.sameOrigin = await probeSocket(ada, config.base);
  const foreign = await ada.context().newPage();
  await foreign.goto(`${config.foreign}/`);
  seen.foreignOrigin = await probeSocket(foreign, config.base);
  seen.foreignRest = await foreign.evaluate(async (base) => {
    try {
      const response = await fetch(`${base}/api/auth/me`, { credentials: "include" });
      return `read HTTP ${response.status}`;
    } catch (error) {
      return `blocked: ${error.name}`;
    }
  }, config.base);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
