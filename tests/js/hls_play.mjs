// Play HLS in Debian's Chromium with playwright-core: open a page (served by the Python test) that sets
// window.result, a promise of the page's report, and print that report as one JSON line on stdout.
// Usage: node hls_play.mjs '<json options>'
// options: pageUrl, timeoutMs (whole run), executablePath (default /usr/bin/chromium), args (extra
//          Chromium flags, e.g. --host-resolver-rules=... for a custom domain)
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
const timeoutMs = opts.timeoutMs ?? 90000;
const watchdog = setTimeout(() => {
  console.error(`hls_play: no result after ${timeoutMs} ms`);
  process.exit(3);
}, timeoutMs);

const browser = await chromium.launch({
  executablePath: opts.executablePath ?? "/usr/bin/chromium",
  headless: true,
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--autoplay-policy=no-user-gesture-required", ...(opts.args ?? [])],
});
const log = [];
try {
  const page = await browser.newPage({ viewport: { width: 640, height: 480 }, ignoreHTTPSErrors: true });
  page.on("console", (msg) => log.push(`console.${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => log.push(`pageerror: ${err}`));
  page.on("requestfailed", (req) => log.push(`requestfailed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  page.on("response", (res) => log.push(`response: ${res.status()} ${res.url()}`));
  await page.goto(opts.pageUrl, { waitUntil: "load" });
  const result = await page.evaluate(() => window.result);
  console.log(JSON.stringify({ ...result, log }));
} catch (err) {
  console.error(String(err?.stack ?? err));
  console.error(log.join("\n"));
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await browser.close();
}
