// Drive Debian's Chromium with playwright-core: open the harness page (served by the Python tests from
// an origin other than the gateway's), run window.runSteps(run) in it and print the result as one JSON
// line on stdout. Usage: node browser_upload.mjs '<json options>'
// options: pageUrl, run ({size, seed, name, type, steps}, see browser/harness.js), screenshot (a PNG
//          path), timeoutMs (whole run), executablePath (default /usr/bin/chromium)
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
const watchdog = setTimeout(() => {
  console.error(`browser_upload: no result after ${opts.timeoutMs ?? 120000} ms`);
  process.exit(3);
}, opts.timeoutMs ?? 120000);

const browser = await chromium.launch({
  executablePath: opts.executablePath ?? "/usr/bin/chromium",
  headless: true,
  // playwright-core adds --no-sandbox (no chromiumSandbox) and a fresh temporary --user-data-dir
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const log = [];
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  page.on("console", (msg) => log.push(`console.${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => log.push(`pageerror: ${err}`));
  page.on("requestfailed", (req) => log.push(`requestfailed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  await page.goto(opts.pageUrl, { waitUntil: "load" });
  if (!(await page.evaluate(() => window.harnessReady === true))) {
    throw new Error("harness page did not load UpChunk and tus-js-client");
  }
  const result = await page.evaluate((run) => window.runSteps(run), opts.run);
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  console.log(JSON.stringify({ ...result, log }));
} catch (err) {
  console.error(String(err?.stack ?? err));
  console.error(log.join("\n"));
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await browser.close();
}
