"""The ffmpeg command lines: argument lists with the whitelists in front of the input, file: names."""

from __future__ import annotations

from tests.media.clips import Clips
from workers.media import analyse
from workers.media.commands import remux_argv, standardise_argv
from workers.media.source import Source


async def test_command_lines_are_locked_down(clips: Clips) -> None:
    analysis = await analyse(str(clips["vp9_opus"]))
    for source, protocols in ((Source.parse("/data/in put.bin"), "file"),
                              (Source.parse("https://s3.example/b/k?X-Amz-Signature=a;b|c"), "http,https,tcp,tls")):
        for argv in (remux_argv(source, "/out/o.mp4", analysis), standardise_argv(source, "/out/o.mp4", analysis)):
            assert argv[0] == "ffmpeg" and "-nostdin" in argv
            i = argv.index("-i")
            front = argv[:i]
            assert front[front.index("-protocol_whitelist") + 1] == protocols
            demuxers = front[front.index("-format_whitelist") + 1].split(",")
            assert "mov" in demuxers and "matroska" in demuxers
            assert not {"hls", "concat", "image2", "dash", "sdp", "rtsp", "tee"} & set(demuxers)
            assert argv[i + 1] == (source.location if source.remote else "file:/data/in put.bin")
            assert "file:/out/o.mp4" in argv and argv[argv.index("-f") + 1] == "mp4"
            assert argv[argv.index("-movflags") + 1] == "+faststart"


async def test_decoding_refuses_frames_past_the_probes_limit(clips: Clips) -> None:
    """A stream may change size after the probe looked at it: the decoder's own cap is the probe's."""
    analysis = await analyse(str(clips["vp9_opus"]))
    argv = standardise_argv(Source.parse("/data/in.mp4"), "/out/o.mp4", analysis)
    front = argv[:argv.index("-i")]
    assert front[front.index("-max_pixels") + 1] == str(8192 * 8192)
