"""ffprobe's (and ffmpeg's) memory: small crafted files that would make the tools allocate gigabytes are
refused quickly, as `invalid_input` (never retried), with a message that says why; normal clips, 4K
included, still probe under the default limit; the limits are settings.

The crafted files are made here: a raw H.264 stream of five 32x32 frames whose SPS is rewritten to claim
another size (16000x16000 in 900 bytes: ffprobe reached 1.2 GB RSS under the old 4 GiB limit; the same
stream copied into an MP4, 757 MB, and that MP4 used to pass the analysis), and an MP4 holding the same
short AAC track 999 times (690 MB: a decoder per stream; it used to pass too).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.settings import JobSettings, load_settings
from tests.media.clips import FFMPEG, Clips
from workers.jobs import TRANSIENT
from workers.media import MediaError, analyse, probe, process, standardise, transcode
from workers.media.source import Source

QUICK = 15.0  # seconds: each refusal takes well under one here; generous for a loaded test machine


# -- crafted inputs ----------------------------------------------------------------------------------------

def _unescape(payload: bytes) -> bytes:
    """An RBSP from a NAL payload: drop the emulation-prevention byte of each 00 00 03."""
    out, zeros = bytearray(), 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _escape(rbsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{byte:08b}" for byte in data)
        self.pos = 0

    def u(self, n: int) -> int:
        value = int(self.bits[self.pos:self.pos + n] or "0", 2)
        self.pos += n
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bits[self.pos] == "0":
            zeros += 1
            self.pos += 1
        self.pos += 1
        return (1 << zeros) - 1 + self.u(zeros)


def _ue(value: int) -> str:
    code = format(value + 1, "b")
    return "0" * (len(code) - 1) + code


def _resize_sps(nal: bytes, width: int, height: int) -> bytes:
    """A Baseline/Main SPS NAL with pic_width/height_in_mbs rewritten; every other bit is kept."""
    bits = _Bits(_unescape(nal[1:]))
    profile = bits.u(8)
    assert profile in (66, 77), profile  # no chroma_format_idc / scaling lists before the size
    bits.u(16)                           # constraint flags, level
    bits.ue()                            # seq_parameter_set_id
    bits.ue()                            # log2_max_frame_num_minus4
    poc_type = bits.ue()
    assert poc_type in (0, 2), poc_type
    if poc_type == 0:
        bits.ue()                        # log2_max_pic_order_cnt_lsb_minus4
    bits.ue()                            # max_num_ref_frames
    bits.u(1)                            # gaps_in_frame_num_value_allowed_flag
    head = bits.bits[:bits.pos]
    bits.ue()
    bits.ue()
    tail = bits.bits[bits.pos:].rstrip("0")[:-1]  # without the rbsp stop bit and its alignment
    new = head + _ue(width // 16 - 1) + _ue(height // 16 - 1) + tail + "1"
    new += "0" * (-len(new) % 8)
    return nal[:1] + _escape(int(new, 2).to_bytes(len(new) // 8, "big"))


def h264_claiming(path: Path, width: int, height: int) -> Path:
    """A raw H.264 (Annex B) file of five 32x32 frames whose SPS claims `width`x`height` (under 1 KB)."""
    small = path.with_suffix(".small.264")
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10:duration=0.5", "-c:v", "libx264",
                    "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
                    "-bsf:v", "h264_mp4toannexb", str(small)], check=True, timeout=60)
    out = b""
    for nal in filter(None, (part.rstrip(b"\0") for part in small.read_bytes().split(b"\0\0\1"))):
        kind = nal[0] & 0x1F
        if kind == 6:   # x264's SEI (its settings as text): not needed, and most of the bytes
            continue
        out += b"\0\0\0\1" + (_resize_sps(nal, width, height) if kind == 7 else nal)
    if path.suffix == ".264":
        path.write_bytes(out)
        return path
    raw = path.with_suffix(".264")
    raw.write_bytes(out)
    subprocess.run([*FFMPEG, "-r", "10", "-i", str(raw), "-c", "copy", str(path)], check=True, timeout=60)
    return path


def mp4_with_streams(path: Path, count: int) -> Path:
    """An MP4 with the same 0.1 s, 8 kHz AAC track `count` times."""
    track = path.with_suffix(".track.m4a")
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", "sine=duration=0.1:sample_rate=8000", "-c:a", "aac", "-b:a",
                    "8k", str(track)], check=True, timeout=60)
    maps = [arg for _ in range(count) for arg in ("-map", "0:a")]
    subprocess.run([*FFMPEG, "-i", str(track), *maps, "-c", "copy", str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    root = tmp_path_factory.mktemp("crafted")
    recipes: dict[str, Callable[[Path], Path]] = {
        "claims_16000.264": lambda p: h264_claiming(p, 16000, 16000),
        "claims_16000.mp4": lambda p: h264_claiming(p, 16000, 16000),
        "claims_8192.264": lambda p: h264_claiming(p, 8192, 8192),
        "claims_8192.mp4": lambda p: h264_claiming(p, 8192, 8192),
        "claims_32.264": lambda p: h264_claiming(p, 32, 32),
        "claims_32.mp4": lambda p: h264_claiming(p, 32, 32),
        "streams_999.mp4": lambda p: mp4_with_streams(p, 999),
        "streams_100.mp4": lambda p: mp4_with_streams(p, 100),
    }
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = recipes[name](root / name)
        return made[name]

    return get


async def _refused(path: Path, memory_limit: int = probe.MEMORY_LIMIT) -> MediaError:
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        await analyse(str(path), memory_limit=memory_limit)
    assert time.monotonic() - started < QUICK
    error = caught.value
    assert error.type == "invalid_input" and error.type not in TRANSIENT
    return error


# -- the crafted files -------------------------------------------------------------------------------------

async def test_the_crafted_stream_is_small_and_real(crafted: Callable[[str], Path]) -> None:
    """The control: the rewrite changes only the size (the same bytes at 32x32 are a valid stream)."""
    assert crafted("claims_16000.264").stat().st_size < 2048
    assert crafted("claims_16000.mp4").stat().st_size < 4096
    for name, size in (("claims_16000.264", [16000, 16000]), ("claims_32.264", [32, 32]),
                       ("claims_16000.mp4", [16000, 16000]), ("claims_32.mp4", [32, 32])):
        done = await process.run(["ffprobe", "-v", "error", "-of", "csv=p=0", "-show_entries",
                                  "stream=width,height", str(crafted(name))], memory_limit=probe.MEMORY_LIMIT)
        assert [int(x) for x in done.stdout.decode().strip().split(",")] == size


@pytest.mark.parametrize("name", ["claims_16000.264", "claims_16000.mp4"])
async def test_a_claimed_16000x16000_video_is_refused(crafted: Callable[[str], Path], name: str) -> None:
    error = await _refused(crafted(name))
    assert error.message == "The video is 16000x16000; at most 8192 pixels on a side are accepted"


async def test_the_same_stream_at_its_real_size_is_accepted(crafted: Callable[[str], Path]) -> None:
    analysis = await analyse(str(crafted("claims_32.mp4")))
    assert analysis.video is not None and (analysis.video.width, analysis.video.height) == (32, 32)


async def test_a_video_that_needs_more_than_the_limit_is_refused(crafted: Callable[[str], Path]) -> None:
    """8192x8192 passes the size check, but its frames (read from a raw stream) do not fit in 512 MiB:
    ffprobe logs "get_buffer() failed" and exits 0, and that is not taken as a description."""
    error = await _refused(crafted("claims_8192.264"))
    assert error.message == ("The input file needs more than 512 MiB of memory to probe (very large video "
                             "dimensions or too many streams)")


async def test_the_limit_is_the_one_given(crafted: Callable[[str], Path]) -> None:
    """An 8192x8192 MP4 probes in 2 GiB (and in 512 MiB) but not in 320 MiB: the limit passed is the one
    used."""
    analysis = await analyse(str(crafted("claims_8192.mp4")), memory_limit=2 << 30)
    assert analysis.video is not None and analysis.video.width == 8192
    error = await _refused(crafted("claims_8192.mp4"), memory_limit=320 << 20)
    assert error.message.startswith("The input file needs more than 320 MiB of memory to probe")


async def test_999_streams_run_out_of_memory(crafted: Callable[[str], Path]) -> None:
    """ffprobe fails ("Cannot allocate memory") before describing anything."""
    error = await _refused(crafted("streams_999.mp4"))
    assert error.message.startswith("The input file needs more than 512 MiB of memory to probe")
    assert "Cannot allocate memory" in error.detail


async def test_more_than_64_streams_are_refused(crafted: Callable[[str], Path]) -> None:
    """100 streams fit in memory (ffprobe describes them) but are more than any upload needs."""
    error = await _refused(crafted("streams_100.mp4"))
    assert error.message == "The input file has 100 streams; at most 64 are accepted"


# -- normal clips ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("clip", "size"), [("std", (1280, 720)), ("uhd", (3840, 2160)), ("hevc", (320, 180))])
async def test_normal_clips_probe_under_the_default_limit(clips: Clips, clip: str, size: tuple[int, int]) -> None:
    assert probe.MEMORY_LIMIT == JobSettings().probe_memory == 512 << 20
    analysis = await analyse(str(clips[clip]), tier="2160p", memory_limit=JobSettings().probe_memory)
    assert analysis.video is not None and (analysis.video.width, analysis.video.height) == size


async def test_ffprobe_runs_with_one_thread(clips: Clips) -> None:
    """Decoder threads add stacks and malloc arenas to the address space: the limit must not depend on
    the host's cores."""
    argv = probe._argv(Source.parse(str(clips["std"])), v="error")
    assert argv[argv.index("-threads") + 1] == "1"
    done = await process.run(argv, memory_limit=probe.MEMORY_LIMIT)
    assert done.returncode == 0


def test_a_killed_ffprobe_is_invalid_input_not_transient() -> None:
    error = probe.failure(process.Completed(-11, b"", ""), 512 << 20)
    assert error.type == "invalid_input" and error.type not in TRANSIENT
    assert error.message == ("ffprobe crashed (SIGSEGV) reading the input file; it may need more than 512 MiB of "
                             "memory to probe")
    plain = probe.failure(process.Completed(1, b"", "Invalid data found when processing input"), 512 << 20)
    assert plain.message == "The input file could not be read as media (ffprobe failed)"


# -- ffmpeg ------------------------------------------------------------------------------------------------

async def test_a_conversion_that_needs_more_memory_says_so(clips: Clips, tmp_path: Path) -> None:
    """Scaling 4K to 1080p needs about 780 MiB of address space here: under 560 MiB ffmpeg fails, and the
    error says that it was memory."""
    assert transcode.MEMORY_LIMIT == JobSettings().transcode_memory == 16 << 30
    analysis = await analyse(str(clips["uhd"]), tier="1080p")
    dest = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as caught:
        await standardise(str(clips["uhd"]), str(dest), analysis, tier="1080p", timeout=120,
                          memory_limit=560 << 20)
    assert caught.value.type == "invalid_input"
    assert caught.value.message == "Converting the input file needs more than 560 MiB of memory"
    assert not dest.exists()


# -- settings ----------------------------------------------------------------------------------------------

def test_memory_settings_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert JobSettings.model_validate({"probe_memory": "256MiB"}).probe_memory == 256 * 1024**2
    assert JobSettings.model_validate({"transcode_memory": "4GiB"}).transcode_memory == 4 * 1024**3
    config = tmp_path / "config.yaml"
    config.write_text("jobs:\n  probe_memory: 768MiB\n")
    assert load_settings(config).jobs.probe_memory == 768 * 1024**2
    monkeypatch.setenv("UPGW_JOBS__PROBE_MEMORY", "1GiB")
    assert load_settings(config).jobs.probe_memory == 1024**3
    with pytest.raises(ValueError, match="greater than or equal"):
        JobSettings.model_validate({"probe_memory": "100MiB"})  # less than ffprobe's own libraries

