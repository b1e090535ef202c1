// Drive @mux/mux-node's playback-id, signing-key and JWT APIs against the gateway.
// Usage: node mux_playback_sdk.mjs '<json options>'
// options: baseURL, tokenId, tokenSecret, assetId. The script:
//   creates a signed and a public playback id on the asset, retrieves them (by asset and on their own),
//   deletes the public one and retrieves it again (404), asks for a drm id (400);
//   creates a signing key (under /system/v1), retrieves it, lists every key (auto-paginated, limit 2);
//   signs a token for each type with mux.jwt.signPlaybackId, and several at once (the multiple-type form).
// Prints one JSON line: what the SDK returned (or the status, class and body of what it threw).
import Mux from "@mux/mux-node";

const opts = JSON.parse(process.argv[2]);
const mux = new Mux({ tokenId: opts.tokenId, tokenSecret: opts.tokenSecret, baseURL: opts.baseURL,
                      maxRetries: 0, timeout: 20000 });
const TYPES = ["video", "thumbnail", "gif", "storyboard"];

async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, status: err?.status ?? null, name: err?.constructor?.name ?? null,
             error: err?.error ?? null, message: String(err?.message ?? err) };
  }
}

async function main() {
  const out = {};
  const asset = opts.assetId;
  out.signed = await mux.video.assets.createPlaybackId(asset, { policy: "signed" });
  out.public = await mux.video.assets.createPlaybackId(asset, { policy: "public" });
  out.retrieved = await mux.video.assets.retrievePlaybackId(asset, out.signed.id);
  out.lookup = await mux.video.playbackIds.retrieve(out.signed.id);
  await mux.video.assets.deletePlaybackId(asset, out.public.id);
  out.afterDelete = await attempt(() => mux.video.assets.retrievePlaybackId(asset, out.public.id));
  out.lookupAfterDelete = await attempt(() => mux.video.playbackIds.retrieve(out.public.id));
  out.drm = await attempt(() => mux.video.assets.createPlaybackId(asset, { policy: "drm" }));
  out.asset = await mux.video.assets.retrieve(asset);

  out.key = await mux.system.signingKeys.create();
  out.keyRetrieved = await mux.system.signingKeys.retrieve(out.key.id);
  out.keysListed = [];
  for await (const key of mux.system.signingKeys.list({ limit: 2 })) {
    out.keysListed.push(key.id);
    if (out.keysListed.length > 100) break;
  }
  const signing = { keyId: out.key.id, keySecret: out.key.private_key, expiration: "1h" };
  out.tokens = {};
  for (const type of TYPES) {
    out.tokens[type] = await mux.jwt.signPlaybackId(out.signed.id, { ...signing, type });
  }
  out.withParams = await mux.jwt.signPlaybackId(out.signed.id, { ...signing, type: "thumbnail",
                                                                  params: { time: "2" } });
  out.multiple = await mux.jwt.signPlaybackId(out.signed.id, { ...signing, type: ["video", "thumbnail"] });
  return out;
}

try {
  console.log(JSON.stringify(await main()));
} catch (err) {
  console.error(`${err?.constructor?.name}: ${err?.status ?? ""} ${err?.message ?? err}`);
  console.error(JSON.stringify(err?.error ?? null));
  process.exitCode = 1;
}
