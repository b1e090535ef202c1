"""The human summary of an asset printed at the end of a run (``--json`` prints the asset instead)."""

from __future__ import annotations

from typing import Any


def describe_track(track: dict[str, Any]) -> str:
    kind = str(track.get("type", "?"))
    if kind == "video":
        size = f"{track.get('max_width', '?')}x{track.get('max_height', '?')}"
        rate = track.get("max_frame_rate")
        return f"video {size}" + (f" {rate:g} fps" if isinstance(rate, int | float) else "")
    if kind == "audio":
        channels = track.get("max_channels")
        return "audio" + (f" {channels} ch" if channels else "")
    return kind


def describe(asset: dict[str, Any], upload_id: str | None = None) -> str:
    rows: list[tuple[str, str]] = [("asset", str(asset.get("id"))), ("status", str(asset.get("status")))]
    if upload_id:
        rows.append(("upload", upload_id))
    duration = asset.get("duration")
    if isinstance(duration, int | float):
        rows.append(("duration", f"{duration:.2f} s"))
    if asset.get("resolution_tier"):
        rows.append(("resolution tier", str(asset["resolution_tier"])))
    if asset.get("aspect_ratio"):
        rows.append(("aspect ratio", str(asset["aspect_ratio"])))
    tracks = asset.get("tracks") or []
    if tracks:
        rows.append(("tracks", "; ".join(describe_track(t) for t in tracks)))
    reasons = asset.get("non_standard_input_reasons")
    if reasons:
        rows.append(("non-standard input", ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))))
    elif asset.get("status") == "ready":
        rows.append(("non-standard input", "none"))
    master = asset.get("master") or {}
    if master.get("url"):
        rows.append(("master", str(master["url"])))
    elif master.get("status"):
        rows.append(("master", str(master["status"])))
    if asset.get("passthrough"):
        rows.append(("passthrough", str(asset["passthrough"])))
    errors = asset.get("errors")
    if errors:
        messages = errors.get("messages") or []
        rows.append(("errors", f"{errors.get('type', 'error')}: {'; '.join(map(str, messages))}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
