// Drive the official @mux/mux-node SDK against the gateway. Usage: node mux_node_sdk.mjs '<json options>'
// options: baseURL, tokenId, tokenSecret, scenario ("lifecycle" | "read"), and per scenario:
//   lifecycle: corsOrigin, count  create `count` uploads, retrieve, auto-paginate list({limit: 2}),
//                                 cancel one twice, retrieve an unknown id
//   read:      uploadId           retrieve the upload and, once it has one, its asset
//   example:                      create an upload as Mux's Node example does (one policy, a string)
//   fromUrl:   url                create an asset from a URL, retrieve it; a file: URL is refused
// Prints one JSON line: what the SDK returned (or the status, class and body of what it threw).
import Mux from "@mux/mux-node";

const opts = JSON.parse(process.argv[2]);
const mux = new Mux({ tokenId: opts.tokenId, tokenSecret: opts.tokenSecret, baseURL: opts.baseURL,
                      maxRetries: 0, timeout: 20000 });

async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, status: err?.status ?? null, name: err?.constructor?.name ?? null,
             error: err?.error ?? null, message: String(err?.message ?? err) };
  }
}

async function lifecycle() {
  const out = { created: [] };
  for (let i = 0; i < opts.count; i++) {
    out.created.push(await mux.video.uploads.create({
      cors_origin: opts.corsOrigin,
      timeout: 3600,
      new_asset_settings: { playback_policies: ["public"], passthrough: `node-${i}`,
                            meta: { title: `clip ${i}`, creator_id: "node-sdk" } },
    }));
  }
  out.retrieved = await mux.video.uploads.retrieve(out.created[0].id);
  // auto-pagination stops only on an empty page; a server that ignores `page` would loop forever
  out.listed = [];
  const cap = 4 * opts.count + 10;
  for await (const upload of mux.video.uploads.list({ limit: 2 })) {
    out.listed.push(upload.id);
    if (out.listed.length > cap) { out.runaway = true; break; }
  }
  out.pageSizes = [];
  for await (const page of (await mux.video.uploads.list({ limit: 2 })).iterPages()) {
    out.pageSizes.push(page.data.length);
    if (out.pageSizes.length > cap) { out.runaway = true; break; }
  }
  out.cancelled = await mux.video.uploads.cancel(out.created[1].id);
  out.afterCancel = await mux.video.uploads.retrieve(out.created[1].id);
  out.cancelAgain = await attempt(() => mux.video.uploads.cancel(out.created[1].id));
  out.unknown = await attempt(() => mux.video.uploads.retrieve("no-such-upload"));
  return out;
}

async function read() {
  const upload = await mux.video.uploads.retrieve(opts.uploadId);
  const asset = upload.asset_id ? await mux.video.assets.retrieve(upload.asset_id) : null;
  return { upload, asset };
}

async function example() {
  return await attempt(() => mux.video.uploads.create({
    cors_origin: "*", new_asset_settings: { playback_policy: "public" } }));
}

async function fromUrl() {
  const created = await mux.video.assets.create({ inputs: [{ url: opts.url }], playback_policies: ["public"] });
  const retrieved = await mux.video.assets.retrieve(created.id);
  const refused = await attempt(() => mux.video.assets.create({ inputs: [{ url: "file:///etc/passwd" }] }));
  return { created, retrieved, refused };
}

const scenarios = { lifecycle, read, example, fromUrl };
try {
  console.log(JSON.stringify(await scenarios[opts.scenario]()));
} catch (err) {
  console.error(`${err?.constructor?.name}: ${err?.status ?? ""} ${err?.message ?? err}`);
  console.error(JSON.stringify(err?.error ?? null));
  process.exitCode = 1;
}
