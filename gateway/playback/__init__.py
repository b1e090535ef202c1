"""Playback: the ways out of a ready asset, under Mux's URL shapes.

    stream.py   /stream/<playback id>.m3u8 (the multivariant playlist, written per request from
                Asset.hls), /stream/<id>/<rung>/<file> (media playlists and CMAF segments),
                /stream/<id>/highest.mp4 and /audio.m4a (static renditions), Range on every file
    images.py   /image/<id>/thumbnail.{jpg,png,webp}, storyboard.{jpg,png,webp,vtt,json},
                animated.{gif,webp}: rendered on demand (render.py, a bounded pool) and cached in storage
    hosts.py    stream.<domain>/... and image.<domain>/... (``playback.host_routing``)
    keys.py     signing keys: RSA key pairs; only the public key is stored
    tokens.py   a signed playback id's token (RS256 JWT, Mux's claims) checked per audience

The playback-id and signing-key JSON APIs are gateway/api/playback.py.
"""
