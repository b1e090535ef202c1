"""gateway/playback/playlists.py: the multivariant playlist and media-playlist rewriting, pure."""

from __future__ import annotations

import m3u8
import pytest

from gateway.catalog.models import Rung, RungStatus
from gateway.errors import BadRequest
from gateway.playback.playlists import carry_tokens, multivariant, select


def rung(name: str, status: RungStatus = RungStatus.READY) -> Rung:
    height = int(name[:-1])
    return Rung(name=name, status=status, width=height * 16 // 9, height=height, bandwidth=height * 5000,
                average_bandwidth=height * 4000, codecs="avc1.640028,mp4a.40.2", frame_rate=29.97)


LADDER = (rung("1080p"), rung("720p"), rung("480p", RungStatus.PREPARING), rung("360p"), rung("270p"))


def names(query: dict[str, str], ladder: tuple[Rung, ...] = LADDER) -> list[str]:
    return [r.name for r in select(ladder, query)]


def plain(url: str) -> str:
    return url


def test_selection() -> None:
    assert names({}) == ["270p", "360p", "720p", "1080p"]              # ready only, lowest first
    assert names({"rendition_order": "desc"}) == ["1080p", "720p", "360p", "270p"]
    assert names({"rendition_order": "default"}) == ["270p", "360p", "720p", "1080p"]
    assert names({"max_resolution": "720p"}) == ["270p", "360p", "720p"]
    assert names({"max_resolution": "540p"}) == ["270p", "360p"]
    assert names({"min_resolution": "480p"}) == ["720p", "1080p"]
    assert names({"min_resolution": "360p", "max_resolution": "720p", "rendition_order": "desc"}) == ["720p", "360p"]
    assert names({"min_resolution": "2160p"}) == ["1080p"]            # above the ladder: its top
    assert names({"max_resolution": "270p"}, (rung("720p"), rung("360p"))) == ["360p"]   # below it: its bottom
    assert names({"min_resolution": "480p", "max_resolution": "540p"}, (rung("720p"), rung("360p"))) == ["720p"]


@pytest.mark.parametrize("query", [{"max_resolution": "4k"}, {"min_resolution": "721p"}, {"max_resolution": ""},
                                   {"rendition_order": "asc"}, {"min_resolution": "1080p", "max_resolution": "720p"}])
def test_bad_modifiers(query: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        select(LADDER, query)


def test_multivariant_shape() -> None:
    audio = Rung(name="audio", status=RungStatus.READY, bandwidth=140000, average_bandwidth=130000,
                 codecs="mp4a.40.2")
    incomplete = Rung(name="144p", status=RungStatus.READY)   # no numbers: not listable
    body = multivariant("pid", select((rung("720p"), audio, incomplete), {"max_resolution": "270p"}),
                        lambda url: url + "?token=t")
    text = body.decode()
    assert text.splitlines()[:3] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert ('#EXT-X-STREAM-INF:BANDWIDTH=3600000,AVERAGE-BANDWIDTH=2880000,CODECS="avc1.640028,mp4a.40.2",'
            "RESOLUTION=1280x720,FRAME-RATE=29.970\npid/720p/index.m3u8?token=t\n") in text
    assert '#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=130000,CODECS="mp4a.40.2"\n' in text
    parsed = m3u8.loads(text)
    assert [p.uri for p in parsed.playlists] == ["pid/720p/index.m3u8?token=t", "pid/audio/index.m3u8?token=t"]
    assert parsed.playlists[1].stream_info.resolution is None
    assert multivariant("pid", [], plain) == b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"


MEDIA = b"""#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.000000,
seg00000.m4s
#EXTINF:1.500000,
seg00001.m4s
#EXT-X-ENDLIST
"""


def test_carry_tokens() -> None:
    assert carry_tokens(MEDIA, plain) == MEDIA
    carried = carry_tokens(MEDIA, lambda url: url + "?token=abc").decode()
    assert '#EXT-X-MAP:URI="init.mp4?token=abc"' in carried
    assert "\nseg00000.m4s?token=abc\n" in carried and "\nseg00001.m4s?token=abc\n" in carried
    assert "#EXTINF:2.000000,\n" in carried and carried.endswith("#EXT-X-ENDLIST\n")
    parsed = m3u8.loads(carried)
    assert [s.uri for s in parsed.segments] == ["seg00000.m4s?token=abc", "seg00001.m4s?token=abc"]
