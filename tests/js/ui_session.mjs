// A long-lived headless Chromium page driven line by line (tests/ui/session.py is the other half).
// Usage: node ui_session.mjs '{"executablePath": ..., "viewport": {"width": .., "height": ..}}'
// stdin: one JSON command per line, e.g. {"op": "click", "selector": "#start"}
// stdout: one JSON reply per command, {"ok": true, "value": ...} or {"ok": false, "error": "..."};
//         the first line is {"ok": true, "value": "ready"} once the browser is up.
// Functions (op evaluate / waitForFunction) arrive as source text and are compiled here in Node, so
// the page's Content-Security-Policy (no eval) applies to the page only, not to the test's probes.
import readline from "node:readline";
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2] ?? "{}");
const browser = await chromium.launch({
  executablePath: opts.executablePath ?? "/usr/bin/chromium",
  headless: true,
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
// httpCredentials: a browser that has the API's Basic credentials cached (the attacker's best case)
const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1024, height: 768 },
                                           httpCredentials: opts.httpCredentials });
// Content-Security-Policy violations with where they happened (the console only has a message)
await context.addInitScript(() => {
  document.addEventListener("securitypolicyviolation", (e) => {
    console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`);
  });
});
const page = await context.newPage();

// what the page did, for the tests to read with {"op": "events"}
const events = { console: [], pageErrors: [], requests: [], navigations: 0 };
page.on("console", (msg) => events.console.push({ type: msg.type(), text: msg.text(), location: msg.location() }));
page.on("pageerror", (err) => events.pageErrors.push(String(err)));
page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) events.navigations += 1; });
page.on("request", (req) => {
  if (!req.url().includes("/files/")) return;
  const h = req.headers();
  events.requests.push({ method: req.method(), url: req.url(), offset: h["upload-offset"] ?? null,
                         contentRange: h["content-range"] ?? null, at: Date.now(),
                         // which protocol: tus 1.0 or the IETF draft (its interop version)
                         tusResumable: h["tus-resumable"] ?? null, interop: h["upload-draft-interop-version"] ?? null,
                         complete: h["upload-complete"] ?? null, length: h["upload-length"] ?? null,
                         contentType: h["content-type"] ?? null });
});

let cdp = null;
const compile = (source) => (0, eval)(`(${source})`);

async function run(cmd) {
  const timeout = cmd.timeoutMs ?? 30000;
  switch (cmd.op) {
    case "goto": await page.goto(cmd.url, { waitUntil: "load", timeout }); return page.url();
    case "reload": await page.reload({ waitUntil: "load", timeout }); return page.url();
    case "click": await page.click(cmd.selector, { timeout }); return null;
    case "fill": await page.fill(cmd.selector, cmd.value, { timeout }); return null;
    case "check": await page.setChecked(cmd.selector, cmd.checked ?? true, { timeout }); return null;
    case "setInputFiles": await page.setInputFiles(cmd.selector, cmd.files, { timeout }); return null;
    case "waitFor": await page.waitForSelector(cmd.selector, { state: cmd.state ?? "visible", timeout }); return null;
    case "text": return await page.textContent(cmd.selector, { timeout });
    case "evaluate": return await page.evaluate(compile(cmd.fn), cmd.arg);
    case "waitForFunction": {
      const handle = await page.waitForFunction(compile(cmd.fn), cmd.arg,
                                                { timeout, polling: cmd.polling ?? "raf" });
      return await handle.jsonValue();
    }
    case "throttle": { // upload bytes per second (Chromium's DevTools network emulation); -1 lifts it
      cdp ??= await context.newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", {
        offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: cmd.uploadBytesPerSecond });
      return null;
    }
    case "viewport": await page.setViewportSize(cmd.size); return null;
    case "screenshot": await page.screenshot({ path: cmd.path, fullPage: cmd.fullPage ?? true }); return cmd.path;
    case "events": {
      const copy = JSON.parse(JSON.stringify(events));
      if (cmd.clear) { events.console.length = 0; events.pageErrors.length = 0; events.requests.length = 0; }
      return copy;
    }
    case "close": return null;
    default: throw new Error(`unknown op ${cmd.op}`);
  }
}

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
reply({ ok: true, value: "ready" });
const lines = readline.createInterface({ input: process.stdin });
try {
  for await (const line of lines) {
    if (!line.trim()) continue;
    let cmd;
    try {
      cmd = JSON.parse(line);
      reply({ ok: true, value: (await run(cmd)) ?? null });
    } catch (err) {
      reply({ ok: false, error: String(err?.stack ?? err) });
    }
    if (cmd?.op === "close") break;
  }
} finally {
  await browser.close();
  process.exit(0); // stdin may still be open
}
