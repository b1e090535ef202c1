// Verify webhook deliveries with the official @mux/mux-node SDK.
// Usage: node webhook_verify.mjs < cases.json, where cases.json is [{body, headers, secret}, ...]
// (body: the raw request body as a string; headers: the request headers as an object).
// Prints one JSON line per case: {"ok": true, "id": ..., "type": ...} or {"ok": false, "error": "..."}.
import Mux from "@mux/mux-node";

let input = "";
for await (const chunk of process.stdin) input += chunk;

for (const { body, headers, secret } of JSON.parse(input)) {
  const mux = new Mux({ tokenId: "unused", tokenSecret: "unused", webhookSecret: secret });
  try {
    const event = await mux.webhooks.unwrap(body, headers, secret);
    console.log(JSON.stringify({ ok: true, id: event.id, type: event.type }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, error: String(err?.message ?? err) }));
  }
}
