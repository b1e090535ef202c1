// One file going to one direct upload, with tus-js-client (tus 1.0, or the IETF Resumable Uploads draft)
// or UpChunk (the browser bundles loaded by index.html as the globals `tus` and `UpChunk`). All expose
// start(), pause(), resume().
//
// Resuming after a reload: the direct upload made for a file is remembered in localStorage under the
// file's name, size and mtime, so picking the same file again continues that upload instead of making
// a new one. tus-js-client keeps its own fingerprint -> upload URL entry (keyed by the same file facts
// and its endpoint: the upload's tus_endpoint, or its url in IETF mode); findPreviousUploads() finds it
// and the upload goes on from the server's offset (HEAD). UpChunk has no such memory: it sends from
// byte 0 again and the gateway acknowledges the chunks it already holds.

const DIRECT_PREFIX = "upgw.direct:";

function directKey(file) {
  return `${DIRECT_PREFIX}${file.name}:${file.size}:${file.lastModified}`;
}

export function rememberedUpload(file) {
  try {
    const saved = JSON.parse(localStorage.getItem(directKey(file)) ?? "null");
    return saved && typeof saved.id === "string" ? saved : null;
  } catch {
    return null;
  }
}

export function rememberUpload(file, upload) {
  localStorage.setItem(directKey(file), JSON.stringify({ id: upload.id, savedAt: Date.now() }));
}

export function forgetUpload(file) {
  localStorage.removeItem(directKey(file));
}

/** tus-js-client against the direct upload's tus_endpoint (creation binds the length, then PATCHes). */
export class TusTransfer {
  constructor(file, upload, { chunkBytes, onProgress, onSuccess, onError }, { continued = false } = {}) {
    const mode = this.mode(upload, continued);
    this.name = mode.name;
    this.resumedFrom = null;
    this.upload = new tus.Upload(file, {
      endpoint: mode.endpoint,
      protocol: mode.protocol,
      uploadUrl: mode.uploadUrl,
      chunkSize: chunkBytes,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
      onProgress: (sent, total) => onProgress(sent, total),
      onSuccess: () => onSuccess(),
      onError: (error) => onError(error instanceof Error ? error : new Error(String(error))),
    });
  }

  /** What tus-js-client speaks, and to where. */
  mode(upload) {
    return { name: "tus-js-client", protocol: "tus-v1", endpoint: upload.tus_endpoint, uploadUrl: null };
  }

  async start() {
    const previous = await this.upload.findPreviousUploads();
    if (previous.length) {
      previous.sort((a, b) => (Date.parse(b.creationTime) || 0) - (Date.parse(a.creationTime) || 0));
      this.upload.resumeFromPreviousUpload(previous[0]);
      this.resumedFrom = previous[0].uploadUrl;
    }
    this.upload.start();
  }

  pause() {
    // abort() without terminating: the bytes stay on the server; start() asks for the offset again
    return this.upload.abort();
  }

  resume() {
    this.upload.start();
  }
}

/**
 * tus-js-client speaking the IETF Resumable Uploads draft (`protocol: "ietf-draft-05"`: interop version
 * 6) to the direct upload's url: a POST there with Upload-Complete: ?0 starts that upload (201, Location
 * = the same url), then PATCHes with Content-Type: application/partial-upload and Upload-Complete (?1 on
 * the last). No tus headers. Pause, resume and resuming after a reload work as with tus (abort(), HEAD
 * for the offset, the fingerprint entry). A direct upload continued without that entry (begun with
 * another client, or the entry is gone) is resumed from its url (HEAD) rather than started again.
 */
export class IetfTransfer extends TusTransfer {
  mode(upload, continued) {
    return { name: "tus-js-client (IETF draft, interop version 6)", protocol: "ietf-draft-05",
             endpoint: upload.url, uploadUrl: continued ? upload.url : null };
  }
}

/** @mux/upchunk against the direct upload's url (PUT + Content-Range chunks). */
export class UpChunkTransfer {
  constructor(file, upload, { chunkBytes, onProgress, onSuccess, onError }) {
    this.name = "UpChunk";
    this.resumedFrom = null;
    this.options = { endpoint: upload.url, file, chunkSize: Math.round(chunkBytes / 1024), attempts: 5,
                     delayBeforeAttempt: 1 };
    this.handlers = { onProgress, onSuccess, onError };
    this.size = file.size;
  }

  async start() {
    const { onProgress, onSuccess, onError } = this.handlers;
    this.upload = UpChunk.createUpload(this.options); // starts sending at once
    this.upload.on("progress", (event) => onProgress((event.detail / 100) * this.size, this.size));
    this.upload.on("success", () => onSuccess());
    this.upload.on("error", (event) => onError(new Error(event.detail?.message ?? "upload failed")));
  }

  pause() {
    this.upload.pause(); // the chunk in flight finishes, then nothing is sent until resume()
  }

  resume() {
    this.upload.resume();
  }
}
