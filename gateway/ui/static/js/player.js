// Playback of a ready asset: its thumbnail as a poster, a storyboard scrub bar (hover shows the tile of
// that moment, a click plays from there) and an HLS player (hls.js, vendored, where Media Source
// Extensions exist; the browser's own HLS in Safari). URLs are this gateway's, relative:
//   /stream/<playback id>.m3u8, /image/<playback id>/thumbnail.jpg, /image/<id>/storyboard.{json,jpg}
// Only public playback ids are played here (a signed id needs a token the page does not have).
// One node per playback id is kept across list refreshes, so polling never stops a video that plays.

import { formatDuration } from "./format.js";

const nodes = new Map(); // playback id -> the node built for it

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** The first public playback id of a ready asset, or null (only ids of our own alphabet are used). */
export function publicPlaybackId(asset) {
  if (asset.status !== "ready") return null;
  const found = (asset.playback_ids ?? []).find((p) => p.policy === "public" && /^[A-Za-z0-9]+$/.test(String(p.id)));
  return found ? String(found.id) : null;
}

function attach(video, src) {
  const Hls = window.Hls;
  if (Hls && Hls.isSupported()) {
    const hls = new Hls({ enableWorker: false }); // no blob: worker, so the page's CSP needs no worker-src
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) video.dataset.error = String(data.details);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    return hls;
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) video.src = src; // Safari plays HLS itself
  else video.dataset.error = "this browser cannot play HLS";
  return null;
}

class Storyboard {
  constructor(playbackId) {
    this.url = `/image/${playbackId}/storyboard.json`;
    this.board = null;
    this.loading = null;
  }

  load() {
    this.loading ??= fetch(this.url, { credentials: "omit" })
      .then((r) => (r.ok ? r.json() : null))
      .then((board) => { this.board = board; return board; })
      .catch(() => null);
    return this.loading;
  }

  /** The tile showing time `t` (the last one starting at or before it). */
  tileAt(t) {
    const tiles = this.board?.tiles ?? [];
    let found = tiles[0];
    for (const tile of tiles) if (tile.start <= t) found = tile;
    return found;
  }
}

function build(asset, playbackId) {
  const duration = Number(asset.duration) || 0;
  const src = `/stream/${playbackId}.m3u8`;
  const poster = el("img", { class: "poster", alt: "Thumbnail", width: "320", loading: "lazy",
                             src: `/image/${playbackId}/thumbnail.jpg?width=320` });
  const play = el("button", { type: "button", class: "play" }, "▶ Play");
  const preview = el("div", { class: "scrub-preview", hidden: "" });
  const label = el("span", { class: "scrub-time" });
  preview.append(label);
  const bar = el("div", { class: "scrub", role: "slider", tabindex: "0", "aria-label": "Scrub through the video",
                          "aria-valuemin": "0", "aria-valuemax": String(Math.round(duration)) }, preview);
  const stage = el("div", { class: "stage" }, poster, play);
  const root = el("div", { class: "playback", "data-playback-id": playbackId }, stage, bar);
  const storyboard = new Storyboard(playbackId);
  let video = null;

  function start(at) {
    if (!video) {
      video = el("video", { class: "player", controls: "", muted: "", playsinline: "", width: "320" });
      video.muted = true;
      attach(video, src);
      stage.replaceChildren(video);
    }
    if (Number.isFinite(at)) video.currentTime = at;
    video.play().catch(() => { /* autoplay refused: the controls are there */ });
  }

  function timeAt(event) {
    const box = bar.getBoundingClientRect();
    const fraction = Math.min(Math.max((event.clientX - box.left) / Math.max(box.width, 1), 0), 1);
    return fraction * duration;
  }

  bar.addEventListener("pointermove", async (event) => {
    const t = timeAt(event);
    const board = await storyboard.load();
    const tile = storyboard.tileAt(t);
    if (!board || !tile) return;
    preview.hidden = false;
    preview.style.width = `${board.tile_width}px`;
    preview.style.height = `${board.tile_height}px`;
    preview.style.backgroundImage = `url("/image/${playbackId}/storyboard.jpg")`;
    preview.style.backgroundPosition = `-${tile.x}px -${tile.y}px`;
    preview.dataset.tileStart = String(tile.start);
    label.textContent = formatDuration(t);
  });
  bar.addEventListener("pointerleave", () => { preview.hidden = true; });
  bar.addEventListener("click", (event) => start(timeAt(event)));
  bar.addEventListener("keydown", (event) => { if (event.key === "Enter") start(0); });
  play.addEventListener("click", () => start(0));
  return root;
}

/** The playback block of an asset (the same node each time for one playback id), or null. */
export function playbackNode(asset) {
  const playbackId = publicPlaybackId(asset);
  if (!playbackId) return null;
  let node = nodes.get(playbackId);
  if (!node) {
    node = build(asset, playbackId);
    nodes.set(playbackId, node);
  }
  return node;
}
