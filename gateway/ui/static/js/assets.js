// The "Recent assets" list: one <li> per asset, built with createElement/textContent only (asset fields
// come from uploads and are never parsed as HTML). A node is rebuilt only when its asset changed, so
// polling does not move focus or selection.

import { formatDuration } from "./format.js";
import { playbackNode } from "./player.js";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Only http(s) URLs become links (a stored "javascript:" URL would otherwise run on click). */
function safeHref(url) {
  try {
    const parsed = new URL(String(url), location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function isBusy(asset) {
  return asset.status === "preparing" || asset.master?.status === "preparing"
    || asset.static_renditions?.status === "preparing";
}

function resolution(asset) {
  const video = (asset.tracks ?? []).find((t) => t.type === "video");
  const size = video && video.max_width && video.max_height ? `${video.max_width}×${video.max_height}` : "";
  const tier = asset.resolution_tier ? String(asset.resolution_tier) : "";
  if (size && tier) return `${size} (${tier})`;
  return size || tier;
}

function frameRate(asset) {
  const rate = asset.max_stored_frame_rate;
  return typeof rate === "number" && rate > 0 ? `${Number(rate.toFixed(2))} fps` : "";
}

function created(asset) {
  const seconds = Number(asset.created_at);
  if (!Number.isFinite(seconds) || seconds <= 0) return "";
  const when = new Date(seconds * 1000);
  return el("time", { datetime: when.toISOString() }, when.toLocaleString());
}

function fact(label, value, cls) {
  if (value === "" || value === null || value === undefined) return null;
  return el("div", { class: cls }, el("dt", {}, label), el("dd", {}, value));
}

function reasons(asset) {
  const entries = Object.entries(asset.non_standard_input_reasons ?? {});
  if (!entries.length) return null;
  return el("div", { class: "reasons" },
    el("h3", {}, "Non-standard input (transcoded)"),
    el("ul", {}, ...entries.map(([key, value]) => el("li", {}, el("code", {}, key), ": ", String(value)))));
}

function downloads(asset) {
  const items = [];
  const master = asset.master;
  if (master?.status === "ready" && safeHref(master.url)) {
    items.push(el("li", {}, el("a", { class: "master-link", href: safeHref(master.url), download: "",
                                      rel: "noopener noreferrer" }, "Master MP4")));
  } else if (master?.status === "preparing") {
    items.push(el("li", { class: "hint" }, "Master MP4: preparing…"));
  }
  for (const file of asset.static_renditions?.files ?? []) {
    const href = file.status === "ready" && safeHref(file.url);
    items.push(el("li", {}, href ? el("a", { href, download: "", rel: "noopener noreferrer" }, String(file.name))
                                 : el("span", { class: "hint" }, `${file.name}: ${file.status}`)));
  }
  if (!items.length) return null;
  return el("div", { class: "downloads" }, el("h3", {}, "Downloads"), el("ul", {}, ...items));
}

function errors(asset) {
  const messages = asset.errors?.messages;
  if (asset.status !== "errored" || !Array.isArray(messages) || !messages.length) return null;
  return el("p", { class: "error" }, messages.map(String).join(" "));
}

function renderAsset(asset, highlighted) {
  const status = String(asset.status ?? "unknown");
  const title = String(asset.meta?.title || asset.passthrough || "Untitled");
  return el("li", { class: highlighted ? "asset new" : "asset", "data-asset-id": String(asset.id),
                    "data-status": status, "aria-label": `${title}, ${status}` },
    el("div", { class: "asset-head" },
      el("span", { class: `badge ${status}` }, status),
      el("span", { class: "asset-title" }, title)),
    el("dl", { class: "facts" },
      fact("Duration", formatDuration(asset.duration), "duration"),
      fact("Resolution", resolution(asset), "resolution"),
      fact("Frame rate", frameRate(asset), "frame-rate"),
      fact("Created", created(asset), "created"),
      fact("Asset id", el("code", {}, String(asset.id)), "asset-id")),
    playbackNode(asset),
    errors(asset),
    reasons(asset),
    downloads(asset));
}

export class AssetList {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
    this.nodes = new Map(); // asset id -> {key, node}
    this.highlight = null;
  }

  render(assets) {
    const next = new Map();
    const ordered = assets.map((asset) => {
      const key = JSON.stringify(asset) + (asset.id === this.highlight ? "*" : "");
      const known = this.nodes.get(asset.id);
      const node = known && known.key === key ? known.node : renderAsset(asset, asset.id === this.highlight);
      next.set(asset.id, { key, node });
      return node;
    });
    this.nodes = next;
    const current = Array.from(this.list.children);
    if (current.length !== ordered.length || current.some((node, i) => node !== ordered[i])) {
      this.list.replaceChildren(...ordered);
    }
    this.empty.hidden = assets.length > 0;
  }
}
