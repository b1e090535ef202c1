// In-page half of the browser tests (loaded by index.html next to the UpChunk and tus-js-client
// browser bundles). browser_upload.mjs calls window.runSteps({size, seed, name, type, steps}): one
// deterministic File is generated, then each step uploads (part of) it and reports what the page saw.
//
// steps:
//   {kind: "upchunk", endpoint, chunkSize (KiB), method, abortAfter, pauseAfter, pauseMs, timeoutMs}
//   {kind: "tus", endpoint, uploadUrl, chunkSize (bytes), timeoutMs, protocol ("tus-v1" | "ietf-draft-03" |
//    "ietf-draft-05"), abortAfter (PATCH responses, then abort)}
//   {kind: "put", endpoint, start, end}         one raw Content-Range chunk with fetch()
//   {kind: "status", endpoint}                  a `Content-Range: bytes */N` status check with fetch()
"use strict";

// xorshift32, little-endian words: tests/browser/harness.py has the same generator.
function makeBytes(seed, size) {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, size);
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function show(step, status, percent) {
  document.getElementById("step").textContent = step;
  document.getElementById("status").textContent = status;
  if (percent !== undefined) document.getElementById("fill").style.width = `${Math.max(0, Math.min(100, percent))}%`;
}

function note(text) {
  document.getElementById("log").textContent += text + "\n";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function responseInfo(res) {
  if (!res) return null;
  const headers = res.headers || {};
  return { status: res.statusCode, range: headers.range ?? null, location: headers.location ?? null };
}

function upchunkStep(file, step) {
  return new Promise((resolve) => {
    const out = { kind: "upchunk", outcome: null, attempts: 0, chunks: [], attemptFailures: [], errors: [],
                  progress: 0, pause: null };
    let finished = false;
    const finish = (outcome) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      out.outcome = outcome;
      show("upchunk", outcome, out.progress);
      // let UpChunk's loop unwind (an abort inside chunkSuccess stops it before the next chunk)
      setTimeout(() => resolve(out), 50);
    };
    const timer = setTimeout(() => { upload.abort(); finish("timeout"); }, step.timeoutMs ?? 60000);
    const upload = UpChunk.createUpload({
      endpoint: step.endpoint, file, chunkSize: step.chunkSize, method: step.method ?? "PUT",
      attempts: step.attempts ?? 5, delayBeforeAttempt: step.delayBeforeAttempt ?? 0.2,
    });
    upload.on("attempt", () => { out.attempts += 1; });
    upload.on("attemptFailure", (e) => {
      out.attemptFailures.push({ chunk: e.detail.chunkNumber, message: e.detail.message,
                                 response: responseInfo(e.detail.response) });
    });
    upload.on("progress", (e) => { out.progress = e.detail; show("upchunk", "uploading", e.detail); });
    upload.on("error", (e) => {
      out.errors.push({ message: e.detail.message, chunk: e.detail.chunk ?? null,
                        response: responseInfo(e.detail.response) });
      note(`upchunk error: ${e.detail.message}`);
      finish("error");
    });
    upload.on("success", () => finish("success"));
    upload.on("chunkSuccess", (e) => {
      out.chunks.push({ chunk: e.detail.chunk, ...responseInfo(e.detail.response) });
      const done = out.chunks.length;
      if (step.abortAfter && done === step.abortAfter) {
        upload.abort();
        finish("aborted");
      } else if (step.pauseAfter && done === step.pauseAfter) {
        upload.pause();
        const before = out.attempts;
        (async () => {
          await sleep(step.pauseMs ?? 1000);
          const status = step.statusDuringPause ? await statusStep(file, { endpoint: step.endpoint }) : null;
          out.pause = { afterChunk: e.detail.chunk, attemptsDuringPause: out.attempts - before, status };
          upload.resume();
        })();
      }
    });
  });
}

function tusStep(file, step) {
  return new Promise((resolve) => {
    const out = { kind: "tus", outcome: null, url: null, error: null, responses: [], progress: 0 };
    let finished = false;
    const finish = (outcome) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      out.outcome = outcome;
      out.url = upload.url;
      show("tus", outcome, out.progress);
      resolve(out);
    };
    const timer = setTimeout(() => { upload.abort(); finish("timeout"); }, step.timeoutMs ?? 60000);
    const upload = new tus.Upload(file, {
      endpoint: step.endpoint ?? null,
      uploadUrl: step.uploadUrl ?? null,
      chunkSize: step.chunkSize ?? Infinity,
      retryDelays: [0, 300, 1000],
      storeFingerprintForResuming: false,
      headers: step.headers ?? {},
      protocol: step.protocol ?? "tus-v1",
      metadata: { filename: file.name, filetype: file.type },
      onAfterResponse(req, res) {
        out.responses.push({ method: req.getMethod(), status: res.getStatus(),
                             offset: res.getHeader("Upload-Offset") ?? null,
                             location: res.getHeader("Location") ?? null,
                             complete: res.getHeader("Upload-Complete") ?? null,
                             interop: res.getHeader("Upload-Draft-Interop-Version") ?? null });
        const patches = out.responses.filter((r) => r.method === "PATCH").length;
        if (step.abortAfter && patches >= step.abortAfter) {   // an interrupted upload, to resume later
          upload.abort().then(() => finish("aborted"));
        }
      },
      onProgress(sent, total) {
        out.progress = (100 * sent) / total;
        show("tus", "uploading", out.progress);
      },
      onError(err) { out.error = String(err); note(`tus error: ${err}`); finish("error"); },
      onSuccess() { out.progress = 100; finish("success"); },
    });
    upload.start();
  });
}

async function fetchPut(endpoint, headers, body) {
  try {
    // a 308 without Location is not a redirect: fetch() hands it over as it is
    const res = await fetch(endpoint, { method: "PUT", headers, body });
    return { status: res.status, range: res.headers.get("range"), location: res.headers.get("location") };
  } catch (err) {
    return { status: 0, error: String(err), range: null, location: null };
  }
}

async function statusStep(file, step) {
  return { kind: "status", ...(await fetchPut(step.endpoint, { "Content-Range": `bytes */${file.size}` }, null)) };
}

async function putStep(file, step) {
  const body = file.slice(step.start, step.end + 1);
  const headers = { "Content-Range": `bytes ${step.start}-${step.end}/${file.size}` };
  return { kind: "put", ...(await fetchPut(step.endpoint, headers, body)) };
}

window.runSteps = async function runSteps(run) {
  const bytes = makeBytes(run.seed, run.size);
  const sha256 = await sha256Hex(bytes);
  const file = new File([bytes], run.name ?? "video.mp4", { type: run.type ?? "video/mp4" });
  const steps = [];
  for (const step of run.steps) {
    show(step.kind, "starting", 0);
    if (step.kind === "upchunk") steps.push(await upchunkStep(file, step));
    else if (step.kind === "tus") steps.push(await tusStep(file, step));
    else if (step.kind === "put") steps.push(await putStep(file, step));
    else if (step.kind === "status") steps.push(await statusStep(file, step));
    else throw new Error(`unknown step ${step.kind}`);
    note(`${step.kind}: ${JSON.stringify(steps[steps.length - 1]).slice(0, 300)}`);
  }
  return { origin: location.origin, size: file.size, sha256, steps };
};

window.harnessReady = typeof UpChunk !== "undefined" && typeof tus !== "undefined" && tus.isSupported;
