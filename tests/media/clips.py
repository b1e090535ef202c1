"""Test media, generated with ffmpeg's lavfi sources (testsrc2, sine) on first use and kept for the
session. Nothing binary is committed. Each recipe says what makes the clip (non-)standard."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-ac", "2", "-b:a", "96k"]
CBR = "-x264-params nal-hrd=cbr -b:v {r} -minrate {r} -maxrate {r} -bufsize {r}"


def video(size: str = "320x180", rate: str | int = 30, duration: float = 2) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration}"]


def sine(duration: float = 2) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}"]


def single_gop(seconds: int, codec: str = "h264") -> list[str]:
    """One keyframe for the whole clip, at 10 fps and 160x90 so it stays cheap."""
    encoder = ([*X264, "-g", "1000", "-keyint_min", "1000", "-sc_threshold", "0"] if codec == "h264" else
               ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                "-x265-params", "keyint=1000:min-keyint=1000:scenecut=0:log-level=error"])
    return video("160x90", 10, seconds) + encoder


@dataclass(frozen=True)
class Recipe:
    filename: str
    args: list[str]
    base: str | None = None  # a clip whose path replaces "{base}" in args


RECIPES: dict[str, Recipe] = {
    # standard: H.264 yuv420p with B-frames, AAC, 30 fps, keyframe every 2 s, 1280x720
    "std": Recipe("std.mp4", video("1280x720", 30, 4) + sine(4) + X264 + [
        "-bf", "2", "-crf", "30", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", *AAC]),
    "std_mkv": Recipe("std.mkv", ["-i", "{base}", "-c", "copy"], "std"),
    "std_ts": Recipe("std.ts", ["-i", "{base}", "-c", "copy", "-f", "mpegts"], "std"),
    "std_faststart": Recipe("std_faststart.mp4", ["-i", "{base}", "-c", "copy", "-movflags", "+faststart"], "std"),
    "video_only": Recipe("video_only.mp4", ["-i", "{base}", "-c", "copy", "-an"], "std"),
    "audio_only": Recipe("audio_only.m4a", sine(3) + AAC),
    "audio_mp3": Recipe("audio.mp3", [*sine(3), "-c:a", "libmp3lame"]),
    "rotated": Recipe("rotated.mp4", ["-i", "{base}", "-c", "copy", "-metadata:s:v:0", "rotate=90"], "std"),
    "offset": Recipe("offset.mp4", ["-itsoffset", "1.0", "-i", "{base}", "-c", "copy", "-t", "3"], "small"),
    "cut": Recipe("cut.mp4", ["-ss", "0.5", "-i", "{base}", "-t", "2", "-c", "copy"], "small"),
    "hevc": Recipe("hevc.mp4", video() + sine() + ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                                                   "-x265-params", "log-level=error", *AAC]),
    "h264_mp3": Recipe("h264_mp3.mp4", video() + sine() + X264 + ["-g", "60", "-c:a", "libmp3lame"]),
    "vp9_opus": Recipe("vp9_opus.webm", video() + sine() + [
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"]),
    "mpeg4_pcm": Recipe("mpeg4_pcm.avi", video() + sine() + ["-c:v", "mpeg4", "-c:a", "pcm_s16le"]),
    "prores_pcm": Recipe("prores_pcm.mov", video("320x240") + sine() + [
        "-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s24le"]),
    "yuv444p": Recipe("yuv444p.mp4", video() + X264[:-1] + ["yuv444p"]),
    "yuv422p10le": Recipe("yuv422p10le.mp4", video() + X264[:-1] + ["yuv422p10le"]),
    "uhd": Recipe("uhd.mp4", video("3840x2160", 10, 1) + X264 + [
        "-crf", "35", "-maxrate", "4M", "-bufsize", "4M"]),
    "fps2": Recipe("fps2.mp4", video("160x90", 2, 4) + X264 + ["-g", "4"]),
    "fps2_5": Recipe("fps2_5.mp4", video("160x90", "5/2", 4) + X264 + ["-g", "5"]),
    "fps240": Recipe("fps240.mp4", video("160x90", 240, 1) + X264 + ["-g", "480"]),
    "fps90": Recipe("fps90.mp4", video("160x90", 90, 2) + X264 + ["-g", "180"]),
    "gop12": Recipe("gop12.mp4", single_gop(12)),
    "gop22": Recipe("gop22.mp4", single_gop(22)),
    "hevc_gop8": Recipe("hevc_gop8.mp4", single_gop(8, "hevc")),
    "hevc_gop12": Recipe("hevc_gop12.mp4", single_gop(12, "hevc")),
    "cbr30": Recipe("cbr30.mp4", video() + X264 + ["-g", "60", *CBR.format(r="30M").split()]),
    "cbr12": Recipe("cbr12.mp4", video() + X264 + ["-g", "60", *CBR.format(r="12M").split()]),
    # first second is noise: that GOP runs at ~25 Mbps, the 6 s average stays near 5 Mbps
    "burst": Recipe("burst.mp4", video("480x270", 30, 6) + X264 + [
        "-vf", "noise=alls=60:allf=t:enable='lt(t,1)'", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
        "-qp", "24"]),
    "sar": Recipe("sar.mp4", video("320x240") + X264 + ["-vf", "setsar=4/3"]),
    "interlaced": Recipe("interlaced.mp4", video() + X264 + [
        "-flags", "+ildct+ilme", "-x264-params", "interlaced=1:tff=1"]),
    "open_gop": Recipe("open_gop.mp4", video("320x180", 30, 3) + X264 + [
        "-bf", "3", "-x264-params", "open-gop=1:keyint=30:min-keyint=30:scenecut=0"]),
    "kitchen": Recipe("kitchen.mp4", video("320x240", 2, 4) + sine(4) + X264[:-1] + [
        "yuv444p", "-vf", "setsar=4/3", "-g", "4", "-c:a", "libmp3lame"]),
    # 400 s at 5 fps: keyframes every 2 s except a 32 s gap (184 s -> 216 s) that only the scan of the
    # middle window sees (the head window covers 0-180 s)
    "long_gap": Recipe("long_gap.mp4", video("160x90", 5, 400) + X264 + [
        "-g", "10000", "-sc_threshold", "0",
        "-force_key_frames", ",".join(str(t) for t in range(0, 400, 2) if not 184 < t < 216)]),
    "small": Recipe("small.mp4", video("320x180", 30, 3) + sine(3) + X264 + ["-bf", "2", "-g", "60", *AAC]),
    "small_mkv": Recipe("small.mkv", ["-i", "{base}", "-c", "copy"], "small"),
    "small_ts": Recipe("small.ts", ["-i", "{base}", "-c", "copy", "-f", "mpegts"], "small"),
    "small_rotated": Recipe("small_rotated.mp4", ["-i", "{base}", "-c", "copy", "-metadata:s:v:0", "rotate=270"],
                            "small"),
    "secret_ts": Recipe("secret.ts", video() + sine() + X264 + AAC + ["-f", "mpegts"]),
    "png": Recipe("image.png", [*video(), "-frames:v", "1"]),
}

BYTES: dict[str, Callable[[Clips], bytes]] = {
    "empty": lambda clips: b"",
    "random": lambda clips: random.Random(4).randbytes(256 * 1024),
    "text": lambda clips: b"this is not a video\n" * 100,
    "truncated": lambda clips: _half(clips["std"]),
    "truncated_faststart": lambda clips: _half(clips["std_faststart"]),
}


def _half(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


class Clips:
    """clips["std"] -> path of the generated clip (made on first use, or all at once by `make_all`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Path] = {}

    def make_all(self, jobs: int = 4) -> None:
        """Generate every recipe, `jobs` ffmpeg processes at a time (most clips are start-up bound)."""
        waiting = [name for name in RECIPES if name not in self._made]
        running: dict[str, subprocess.Popen[bytes]] = {}
        while waiting or running:
            for name in [n for n in waiting if RECIPES[n].base is None or RECIPES[n].base in self._made]:
                if len(running) >= jobs:
                    break
                waiting.remove(name)
                running[name] = subprocess.Popen(self._argv(name))
            for name, proc in list(running.items()):
                if proc.poll() is not None:
                    assert proc.returncode == 0, f"generating {name} failed"
                    self._made[name] = self.root / RECIPES[name].filename
                    del running[name]
            time.sleep(0.01)

    def __getitem__(self, name: str) -> Path:
        if name not in self._made:
            self._made[name] = self._make(name)
        return self._made[name]

    def _make(self, name: str) -> Path:
        if name in BYTES:
            path = self.root / f"{name}.bin"
            path.write_bytes(BYTES[name](self))
            return path
        subprocess.run(self._argv(name), check=True, timeout=60)
        return self.root / RECIPES[name].filename

    def _argv(self, name: str) -> list[str]:
        recipe = RECIPES[name]
        base = str(self[recipe.base]) if recipe.base else ""
        return [*FFMPEG, *(arg.replace("{base}", base) for arg in recipe.args), str(self.root / recipe.filename)]
