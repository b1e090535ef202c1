// Upload a file with tus-js-client under Node. Usage: node tus_upload.mjs '<json options>'
// options: endpoint, file, chunkSize (bytes, default Infinity), parallelUploads, headers, metadata,
//          protocol ("tus-v1", "ietf-draft-03" or "ietf-draft-05"),
//          uploadUrl (resume this upload), abortAfter (bytes: abort once this many were acknowledged)
import fs from "node:fs";
import * as tus from "tus-js-client";

const opts = JSON.parse(process.argv[2]);
const size = fs.statSync(opts.file).size;

// Parallel uploads need a sliceable source (a Buffer); otherwise stream the file.
const parallel = (opts.parallelUploads ?? 1) > 1;
const source = parallel ? fs.readFileSync(opts.file) : fs.createReadStream(opts.file);
const upload = new tus.Upload(source, {
  endpoint: opts.endpoint,
  uploadUrl: opts.uploadUrl ?? null,
  ...(parallel ? {} : { uploadSize: size }),
  chunkSize: opts.chunkSize ?? Infinity,
  parallelUploads: opts.parallelUploads ?? 1,
  headers: opts.headers ?? {},
  metadata: opts.metadata ?? {},
  protocol: opts.protocol ?? "tus-v1",
  retryDelays: [0, 200, 500],
  onProgress(sent) {
    if (opts.abortAfter && sent >= opts.abortAfter) {
      upload.abort().then(() => {
        console.log(JSON.stringify({ aborted: true, url: upload.url }));
        process.exit(0);
      });
    }
  },
  onError(err) {
    console.error(String(err));
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url, size }));
  },
});
upload.start();
