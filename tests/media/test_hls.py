"""HLS rungs made by real ffmpeg from small generated clips (workers/media/hls.py, cmaf.py, ladder.py), the
way workers/packaging.py makes them: the top rung (copied in the remux of a standard input, or from the
master), then the lower rungs in one run with keyframes forced where the top rung's segments start.

Each ladder is checked as a player would see it: playlists parsed with the ``m3u8`` package (VOD,
ENDLIST, EXT-X-MAP, target duration, relative segment names), every rung decoded by ffmpeg from its local
``index.m3u8`` without an error, segment start times equal across rungs, total duration as the source's,
and the CODECS string against ffprobe's profile and level of what was written."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import m3u8
import pytest

from gateway.catalog.playback import SEGMENT_NAME
from gateway.settings import PlaybackSettings
from tests.media.conftest import ffprobe
from workers import packaging
from workers.media import analyse, cmaf, hls
from workers.media.ladder import RungPlan, plan_ladder
from workers.media.source import Source

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
MEMORY = 4 << 30
SMALL = PlaybackSettings(ladder=[270, 180], segment_duration=4.0)
PROFILES = {"Constrained Baseline": 0x42, "Baseline": 0x42, "Main": 0x4D, "High": 0x64}
AAC_OBJECT_TYPES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29}


def make(path: Path, *args: str) -> Path:
    subprocess.run([*FFMPEG, *args, str(path)], check=True, timeout=120)
    return path


def lavfi(size: str = "640x360", rate: int = 30, seconds: float = 10) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]


X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60",
        "-sc_threshold", "0", "-c:a", "aac", "-b:a", "96k", "-shortest"]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hls-clips")
    bframes = make(root / "bframes.mp4", *lavfi(), *X264, "-bf", "2")
    return {
        "bframes": bframes,   # standard: H.264 with B-frames (a decode delay), AAC, a keyframe every 2 s
        "no_bframes": make(root / "no_bframes.mp4", *lavfi(seconds=9), *X264, "-bf", "0"),
        # the video starts 0.5 s after the audio: segment 0's first EXTINF counts from the audio
        "late_video": make(root / "late.mp4", "-itsoffset", "0.5", "-i", str(bframes), "-i", str(bframes),
                           "-map", "0:v", "-map", "1:a", "-c", "copy", "-t", "9"),
        "rotated": make(root / "rotated.mp4", "-i", str(bframes), "-c", "copy", "-metadata:s:v:0", "rotate=90"),
        "audio": make(root / "audio.m4a", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=9",
                      "-c:a", "aac", "-b:a", "96k"),
    }


async def lower_rungs(master: str, top: RungPlan, plans: list[RungPlan], out: Path) -> set[str]:
    """What packaging.finish_ladder does with local files: align to the top rung, encode the rest in one run."""
    source = Source.parse(master)
    first, audio = await hls.timeline(source, timeout=60, memory_limit=MEMORY)
    top_dir = out / top.name
    offsets = cmaf.cut_offsets((top_dir / "index.m3u8").read_text(), (top_dir / "init.mp4").read_bytes(),
                               cmaf.head(str(top_dir / "seg00000.m4s")), cmaf.head(str(top_dir / "seg00001.m4s")))
    return await hls.encode_rungs(source, [(p, str(out / p.name)) for p in plans], [first + o for o in offsets],
                                  audio=audio, segment_duration=4.0, timeout=300, memory_limit=MEMORY,
                                  transient=packaging.TRANSIENT)


def segment_starts(directory: Path) -> list[float]:
    """The first video packet's time in each segment (its init and itself read as one file, by ffprobe)."""
    starts = []
    init = (directory / "init.mp4").read_bytes()
    for segment in sorted(directory.glob("seg*.m4s")):
        joined = directory / "joined.mp4"
        joined.write_bytes(init + segment.read_bytes())
        packets = ffprobe(joined, "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-read_intervals", "%+#1")["packets"]
        starts.append(float(packets[0]["pts_time"]))
        joined.unlink()
    return starts


def check_playlist(directory: Path, source_duration: float) -> Any:
    playlist = m3u8.load(str(directory / "index.m3u8"))
    assert playlist.is_endlist and playlist.playlist_type == "vod" and playlist.version == 7
    assert [s.uri for s in playlist.segment_map] == ["init.mp4"]
    assert 4 <= playlist.target_duration <= 6
    uris = [s.uri for s in playlist.segments]
    assert uris == [f"seg{n:05d}.m4s" for n in range(len(uris))] and all(SEGMENT_NAME.fullmatch(u) for u in uris)
    assert sorted(p.name for p in directory.iterdir()) == sorted(["index.m3u8", "init.mp4", *uris])
    assert abs(sum(s.duration for s in playlist.segments) - source_duration) < 0.5
    decoded = subprocess.run([*FFMPEG, "-i", str(directory / "index.m3u8"), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=120)
    assert decoded.returncode == 0 and decoded.stderr == "", decoded.stderr
    return playlist


def check_codecs(directory: Path, codecs: str) -> None:
    """CODECS against ffprobe: avc1.PPCCLL's profile and level, mp4a.40.<object type>."""
    streams = {s["codec_type"]: s for s in ffprobe(directory / "index.m3u8", "-show_streams")["streams"]}
    names = codecs.split(",")
    if "video" in streams:
        video = streams["video"]
        match = re.fullmatch(r"avc1\.([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})", names.pop(0))
        assert match is not None and int(match[1], 16) == PROFILES[video["profile"]]
        assert int(match[3], 16) == video["level"]
    if "audio" in streams:
        assert names == [f"mp4a.40.{AAC_OBJECT_TYPES[streams['audio']['profile']]}"]


def check_ladder(out: Path, plans: tuple[RungPlan, ...], source: Path) -> None:
    described = ffprobe(source, "-show_format", "-show_streams")
    video = [s for s in described["streams"] if s["codec_type"] == "video"]   # segments are cut on video time
    duration = float(video[0]["duration"] if video else described["format"]["duration"])
    starts = {}
    for plan in plans:
        directory = out / plan.name
        playlist = check_playlist(directory, duration)
        rung = cmaf.read_rung(str(directory))
        assert rung.files[0] == "init.mp4" and rung.files[-1] == "index.m3u8"
        assert rung.bandwidth >= rung.average_bandwidth > 0
        check_codecs(directory, rung.codecs)
        if plan.width:
            picture = next(s for s in ffprobe(directory / "index.m3u8", "-show_streams")["streams"]
                           if s["codec_type"] == "video")
            assert (picture["width"], picture["height"]) == (plan.width, plan.height)
            starts[plan.name] = segment_starts(directory)
            assert len(starts[plan.name]) == len(playlist.segments)
    first = next(iter(starts.values()), [])
    for name, times in starts.items():   # every segment of every rung starts on the same frame
        assert times == pytest.approx(first, abs=1e-3), (name, times, first)


async def test_a_standard_input_has_its_top_rung_copied_in_the_remux(made: dict[str, Path], tmp_path: Path) -> None:
    source = made["bframes"]
    analysis = await analyse(str(source))
    assert analysis.is_standard
    plans = packaging.plan(analysis, SMALL)
    assert [(p.name, p.copy) for p in plans] == [("360p", True), ("270p", False), ("180p", False)]
    master = str(tmp_path / "master.mp4")
    assert await hls.master_and_top(str(source), master, analysis, plans[0], str(tmp_path / "360p"),
                                    segment_duration=4.0, timeout=120, memory_limit=MEMORY)
    assert sorted(s["codec_name"] for s in ffprobe(master, "-show_streams")["streams"]) == ["aac", "h264"]
    assert await lower_rungs(master, plans[0], list(plans[1:]), tmp_path) == set()
    check_ladder(tmp_path, plans, source)
    segments = m3u8.load(str(tmp_path / "360p" / "index.m3u8")).segments
    assert [s.duration for s in segments[:-1]] == [4.0, 4.0]   # cut at the source's keyframes, 2 s apart


@pytest.mark.parametrize("clip", ["no_bframes", "late_video"])
async def test_lower_rungs_start_their_segments_where_the_top_rung_does(
        made: dict[str, Path], tmp_path: Path, clip: str) -> None:
    """No decode delay in the top rung but one in the encodes; video starting after the audio."""
    plans = plan_ladder(640, 360, 30.0, tier="1080p", heights=[270], copy_top=True)
    await hls.make_top(str(made[clip]), plans[0], str(tmp_path / "360p"), audio=True, segment_duration=4.0,
                       timeout=120, memory_limit=MEMORY)
    assert await lower_rungs(str(made[clip]), plans[0], list(plans[1:]), tmp_path) == set()
    check_ladder(tmp_path, plans, made[clip])


async def test_a_rotated_master_gets_an_encoded_portrait_top_rung(made: dict[str, Path], tmp_path: Path) -> None:
    analysis = await analyse(str(made["rotated"]))
    plans = packaging.plan(analysis, PlaybackSettings(ladder=[270]))
    assert [(p.name, p.width, p.height, p.copy) for p in plans] == [("360p", 360, 640, False),
                                                                    ("270p", 270, 480, False)]
    master = str(tmp_path / "master.mp4")
    assert not await hls.master_and_top(str(made["rotated"]), master, analysis, plans[0], str(tmp_path / "360p"),
                                        segment_duration=4.0, timeout=120, memory_limit=MEMORY)
    await hls.make_top(master, plans[0], str(tmp_path / "360p"), audio=True, segment_duration=4.0, timeout=120,
                       memory_limit=MEMORY)
    assert await lower_rungs(master, plans[0], list(plans[1:]), tmp_path) == set()
    check_ladder(tmp_path, plans, made["rotated"])


async def test_an_audio_only_asset_has_one_audio_rung(made: dict[str, Path], tmp_path: Path) -> None:
    analysis = await analyse(str(made["audio"]))
    plans = packaging.plan(analysis, SMALL)
    assert [(p.name, p.copy) for p in plans] == [("audio", True)]
    assert await hls.master_and_top(str(made["audio"]), str(tmp_path / "master.mp4"), analysis, plans[0],
                                    str(tmp_path / "audio"), segment_duration=4.0, timeout=60, memory_limit=MEMORY)
    check_ladder(tmp_path, plans, made["audio"])
    assert cmaf.read_rung(str(tmp_path / "audio")).codecs == "mp4a.40.2"


async def test_a_rung_that_cannot_be_made_does_not_take_the_others_down(
        made: dict[str, Path], tmp_path: Path) -> None:
    plans = plan_ladder(640, 360, 30.0, tier="1080p", heights=[270], copy_top=True)
    await hls.make_top(str(made["no_bframes"]), plans[0], str(tmp_path / "360p"), audio=True,
                       segment_duration=4.0, timeout=120, memory_limit=MEMORY)
    broken = replace(plans[1], name="99p", width=99, height=99)   # x264 refuses odd sizes in 4:2:0
    assert await lower_rungs(str(made["no_bframes"]), plans[0], [broken, plans[1]], tmp_path) == {"99p"}
    assert not (tmp_path / "99p").exists()
    check_ladder(tmp_path, plans, made["no_bframes"])


@pytest.mark.parametrize(("clip", "used"), [("bframes", True), ("audio", True), ("rotated", True), ("yuv422", False)])
async def test_the_early_copy_is_the_remux_when_the_input_is_standard_h264(
        made: dict[str, Path], tmp_path: Path, clip: str, used: bool) -> None:
    """Started before the analysis; kept for a standard H.264 (or audio-only) input and then the same master
    as the remux would write, else cancelled."""
    source = made[clip] if clip in made else make(tmp_path / "yuv422.mp4", *lavfi(seconds=6), *X264[:5],
                                                  "yuv422p", *X264[6:])
    master, early_dir = tmp_path / "master.mp4", tmp_path / "early"
    early = hls.EarlyCopy(str(source), str(master), str(early_dir), segment_duration=4.0, timeout=60,
                          memory_limit=MEMORY)
    analysis = await analyse(str(source))
    assert await early.outcome(analysis) is used
    await early.cancel()
    if not used:
        assert analysis.non_standard_input_reasons == {"unsupported_pixel_format": "yuv422p"}
        return
    remuxed = tmp_path / "remuxed.mp4"
    top = replace(packaging.plan(analysis, SMALL)[0], copy=False)   # the remux alone
    assert not await hls.master_and_top(str(source), str(remuxed), analysis, top, str(tmp_path / "unused"),
                                        segment_duration=4.0, timeout=60, memory_limit=MEMORY)
    ours, theirs = (ffprobe(p, "-show_streams")["streams"] for p in (master, remuxed))
    keys = ("codec_name", "codec_tag_string", "width", "height", "nb_frames", "duration_ts", "profile", "tags",
            "side_data_list")
    assert [{k: s.get(k) for k in keys} for s in ours] == [{k: s.get(k) for k in keys} for s in theirs]
    playlist = m3u8.load(str(early_dir / "index.m3u8"))
    assert playlist.is_endlist and [s.uri for s in playlist.segment_map] == ["init.mp4"]
