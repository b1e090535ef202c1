// The uploader page: sign in with an API token, make a direct upload, send the file with the chosen
// client, and follow the assets list. See gateway/ui/README.md.

import { Api, ApiError, forgetToken, savedToken, saveToken } from "./api.js";
import { AssetList, isBusy } from "./assets.js";
import { formatBytes, formatRate, formatTimeLeft, Meter } from "./format.js";
import {
  forgetUpload, IetfTransfer, rememberedUpload, rememberUpload, TusTransfer, UpChunkTransfer,
} from "./transfer.js";

const $ = (id) => document.getElementById(id);
const FAST_POLL_MS = 2000;
const SLOW_POLL_MS = 10000;
const CLIENTS = { tus: TusTransfer, upchunk: UpChunkTransfer, ietf: IetfTransfer };

const state = {
  api: null,
  file: null,
  transfer: null,
  upload: null,
  meter: null,
  paused: false,
  pollTimer: null,
  pollRun: 0,
  expectAsset: false, // an upload just finished: poll fast until its asset shows up
};
const assets = new AssetList($("assets"), $("assets-empty"));

// -- sign in --------------------------------------------------------------------------------------

function showSignedIn(signedIn) {
  $("login-section").hidden = signedIn;
  $("upload-section").hidden = !signedIn;
  $("assets-section").hidden = !signedIn;
  $("who").hidden = !signedIn;
  $("who-id").textContent = signedIn ? state.api.tokenId : "";
}

function signOut(message = "") {
  forgetToken();
  state.api = null;
  state.pollRun += 1;
  clearTimeout(state.pollTimer);
  showSignedIn(false);
  $("login-error").textContent = message;
  $("token-id").focus();
}

async function signIn(event) {
  event.preventDefault();
  const token = { id: $("token-id").value.trim(), secret: $("token-secret").value };
  if (!token.id || !token.secret) {
    $("login-error").textContent = "Enter the token id and its secret.";
    return;
  }
  $("sign-in").disabled = true;
  $("login-error").textContent = "";
  const api = new Api(token);
  try {
    await api.listAssets(1);
  } catch (error) {
    $("login-error").textContent = error instanceof ApiError && error.status === 401
      ? "That token was not accepted." : `Could not reach the API: ${error.message}`;
    return;
  } finally {
    $("sign-in").disabled = false;
  }
  saveToken(token);
  $("token-secret").value = "";
  startSession(api);
}

function startSession(api) {
  state.api = api;
  showSignedIn(true);
  poll();
}

// -- the assets list --------------------------------------------------------------------------------

async function poll() {
  clearTimeout(state.pollTimer);
  const run = ++state.pollRun; // a newer poll (Refresh, an upload finishing, sign-out) supersedes this one
  if (!state.api) return;
  let delay = SLOW_POLL_MS;
  try {
    const list = await state.api.listAssets(20);
    if (run !== state.pollRun) return;
    assets.render(list);
    $("assets-error").textContent = "";
    $("assets-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    const mine = list.find((a) => a.id === assets.highlight);
    if (mine || !assets.highlight) state.expectAsset = false;
    const waiting = $("upload-status").textContent.endsWith("being prepared.");
    if (mine && mine.status !== "preparing" && waiting) {
      $("upload-status").textContent = mine.status === "ready" ? "Upload complete. The asset is ready."
        : `Upload complete. The asset is ${mine.status}.`;
    }
    if (state.expectAsset || list.some(isBusy)) delay = FAST_POLL_MS;
  } catch (error) {
    if (run !== state.pollRun) return;
    if (error instanceof ApiError && error.status === 401) {
      signOut("The token is no longer accepted; sign in again.");
      return;
    }
    $("assets-error").textContent = `Could not load assets: ${error.message}`;
  }
  if (state.api) state.pollTimer = setTimeout(poll, delay);
}

// -- picking a file ---------------------------------------------------------------------------------

function pick(file) {
  if (state.transfer) return; // one upload at a time
  state.file = file ?? null;
  $("file-name").textContent = file ? `${file.name} (${formatBytes(file.size)})` : "No file chosen";
  $("start").disabled = !file;
  $("upload-error").textContent = "";
  if (file && rememberedUpload(file)) {
    $("upload-status").textContent = "This file was partly uploaded before; Upload continues it.";
  } else {
    $("upload-status").textContent = "";
  }
}

function setupDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", () => pick($("file").files[0]));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) drop.addEventListener(name, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer?.files?.[0];
    if (file) pick(file);
  });
}

// -- uploading --------------------------------------------------------------------------------------

function chosenClient() {
  return document.querySelector('input[name="client"]:checked').value;
}

function chunkBytes() {
  const kib = Number($("chunk-size").value);
  const valid = Number.isInteger(kib) && kib >= 256 && kib % 256 === 0;
  return valid ? kib * 1024 : null;
}

function setButtons({ uploading, paused }) {
  $("start").disabled = uploading || !state.file;
  $("pause").disabled = !uploading || paused;
  $("resume").disabled = !uploading || !paused;
  $("file").disabled = uploading;
  for (const input of document.querySelectorAll('input[name="client"], #master-access, #chunk-size')) {
    input.disabled = uploading;
  }
}

function showProgress(sent, total) {
  const { percent, rate, left } = state.meter.update(sent);
  const shown = Math.min(100, percent);
  $("progress").value = shown;
  $("percent").textContent = `${shown.toFixed(shown >= 100 ? 0 : 1)} %`;
  $("speed").textContent = Number.isFinite(rate) ? formatRate(rate) : "";
  $("eta").textContent = shown >= 100 ? "" : formatTimeLeft(left);
}

/** The waiting direct upload remembered for this file, or a new one. */
async function directUpload(file) {
  const remembered = rememberedUpload(file);
  if (remembered) {
    try {
      const upload = await state.api.getUpload(remembered.id);
      if (upload.status === "waiting") return { upload, continued: true };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
    }
    forgetUpload(file);
  }
  const settings = { playback_policies: ["public"], passthrough: file.name.slice(0, 255) };
  if ($("master-access").checked) settings.master_access = "temporary";
  const upload = await state.api.createUpload({ cors_origin: location.origin, new_asset_settings: settings });
  rememberUpload(file, upload);
  return { upload, continued: false };
}

async function startUpload(event) {
  event.preventDefault();
  const file = state.file;
  const bytes = chunkBytes();
  if (!file || state.transfer) return;
  if (bytes === null) {
    $("upload-error").textContent = "The chunk size must be a multiple of 256 KiB (at least 256).";
    $("chunk-size").focus();
    return;
  }
  $("upload-error").textContent = "";
  setButtons({ uploading: true, paused: false });
  let created;
  try {
    created = await directUpload(file);
  } catch (error) {
    setButtons({ uploading: false, paused: false });
    if (error instanceof ApiError && error.status === 401) signOut("The token is no longer accepted.");
    else $("upload-error").textContent = `Could not create the upload: ${error.message}`;
    return;
  }
  const { upload, continued } = created;
  const Client = CLIENTS[chosenClient()] ?? TusTransfer;
  state.upload = upload;
  state.paused = false;
  state.meter = new Meter(file.size);
  state.transfer = new Client(file, upload, {
    chunkBytes: bytes,
    onProgress: (sent, total) => showProgress(sent, total),
    onSuccess: () => finished(file, upload),
    onError: (error) => failed(error),
  }, { continued });
  $("transfer").hidden = false;
  $("progress").value = 0;
  $("percent").textContent = "0 %";
  $("speed").textContent = "";
  $("eta").textContent = "";
  $("upload-id").textContent = `Direct upload ${upload.id}`;
  try {
    await state.transfer.start();
  } catch (error) {
    failed(error);
    return;
  }
  const how = state.transfer.resumedFrom ? "resuming from the bytes already stored"
    : continued ? "continuing the earlier upload" : "starting";
  $("upload-status").textContent = `Uploading ${file.name} with ${state.transfer.name} (${how})…`;
}

function pause() {
  if (!state.transfer || state.paused) return;
  state.paused = true;
  state.transfer.pause();
  state.meter.reset();
  $("speed").textContent = "";
  $("eta").textContent = "";
  $("upload-status").textContent = "Paused. Nothing is sent until you resume.";
  setButtons({ uploading: true, paused: true });
  $("resume").focus();
}

function resume() {
  if (!state.transfer || !state.paused) return;
  state.paused = false;
  state.transfer.resume();
  $("upload-status").textContent = `Uploading with ${state.transfer.name}…`;
  setButtons({ uploading: true, paused: false });
  $("pause").focus();
}

async function finished(file, upload) {
  forgetUpload(file);
  state.transfer = null;
  showProgress(file.size, file.size);
  setButtons({ uploading: false, paused: false });
  $("file").value = ""; // picking the same file again is a new upload
  $("upload-status").textContent = "Upload complete. The asset is being prepared.";
  state.expectAsset = true;
  // the upload turns asset_created a moment after the last byte is acknowledged
  for (let attempt = 0; attempt < 20 && state.api; attempt++) {
    try {
      const done = await state.api.getUpload(upload.id);
      if (done.asset_id) {
        assets.highlight = done.asset_id;
        break;
      }
    } catch {
      break; // the list below shows the asset anyway
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  poll();
}

function failed(error) {
  state.transfer = null;
  setButtons({ uploading: false, paused: false });
  $("upload-status").textContent = "";
  $("upload-error").textContent = `Upload failed: ${error.message}. Press Upload to continue it.`;
}

// -- wiring -----------------------------------------------------------------------------------------

function main() {
  if (typeof tus === "undefined" || typeof UpChunk === "undefined") {
    $("login-error").textContent = "The upload clients did not load (static/vendor).";
    return;
  }
  $("login").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("upload-form").addEventListener("submit", startUpload);
  $("pause").addEventListener("click", pause);
  $("resume").addEventListener("click", resume);
  $("refresh").addEventListener("click", () => poll());
  setupDrop();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.api) poll();
  });
  const token = savedToken();
  if (token) startSession(new Api(token));
  document.body.dataset.ready = "true";
}

main();
