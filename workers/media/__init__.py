"""The media core of the worker: analyse a source against Mux's standard-input rules, then store it
(`remux` when standard, `standardise` when not). Pure: no Redis, no queue, no storage client.

    analysis = await analyse(url_or_path, tier="1080p")
    asset_fields = analysis.to_asset_fields()
    if analysis.is_standard:
        await remux(url_or_path, "out.mp4", analysis, timeout=600)
    else:
        await standardise(url_or_path, "out.mp4", analysis, tier="1080p", timeout=3600, progress=report)

Modules: `source` (whitelists, byte ranges), `process` (running tools), `probe` (ffprobe), `gop`
(keyframe and bitrate measures), `boxes` (MP4 edit lists), `rules` (Mux's rules and reasons), `plan`
(what is stored), `analysis`, `commands` (ffmpeg argv), `transcode`, `errors`.
"""

from workers.media.analysis import Analysis, analyse
from workers.media.errors import MediaError
from workers.media.transcode import remux, standardise

__all__ = ["Analysis", "MediaError", "analyse", "remux", "standardise"]
