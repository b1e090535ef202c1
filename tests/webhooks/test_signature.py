"""``Mux-Signature``: the Mux test vector through our signing function, and our signatures checked by
our verifier and by the official @mux/mux-node SDK."""

from __future__ import annotations

import time

import pytest

from tests.webhooks.receiver import node_verify
from workers.webhooks.signature import SignatureError, sign, signature, verify

VECTOR_SECRET, VECTOR_T, VECTOR_BODY = "SuperSecret123", 1565125718, b'{"test":"body"}'
VECTOR_V1 = "854ece4c22acef7c66b57d4e504153bc512595e8e9c772ece2a68150548c19a7"


def test_mux_test_vector() -> None:
    assert signature(VECTOR_SECRET, VECTOR_T, VECTOR_BODY) == VECTOR_V1
    assert sign(VECTOR_SECRET, VECTOR_BODY, timestamp=VECTOR_T) == f"t={VECTOR_T},v1={VECTOR_V1}"
    assert verify(f"t={VECTOR_T},v1={VECTOR_V1}", VECTOR_BODY, VECTOR_SECRET, now=VECTOR_T + 10) == VECTOR_T


def test_verify_rejects_what_the_sdk_rejects() -> None:
    body = b'{"type":"video.asset.ready","id":"e1"}'
    header = sign("s3cret", body)
    assert verify(header, body, "s3cret") == int(header.split(",")[0][2:])
    assert verify(f"{header},v1=deadbeef", body, "s3cret")                 # any v1 may match
    for bad_header, bad_body, secret in [
        (header, body + b" ", "s3cret"),                                    # body changed
        (header, body, "other"),                                            # wrong secret
        (sign("s3cret", body, timestamp=int(time.time()) - 400), body, "s3cret"),   # too old
        ("v1=" + header.split("v1=")[1], body, "s3cret"),                   # no timestamp
        (header.split(",")[0], body, "s3cret"),                             # no v1
    ]:
        with pytest.raises(SignatureError):
            verify(bad_header, bad_body, secret)


@pytest.mark.node
def test_official_node_sdk_accepts_our_signatures() -> None:
    body = '{"type":"video.upload.created","id":"a-b","data":{"id":"x","note":"é ✓"}}'.encode()
    fresh = sign("whsec", body)
    results = node_verify([
        (body, {"Mux-Signature": fresh, "Content-Type": "application/json"}, "whsec"),
        (body, {"mux-signature": fresh}, "whsec"),                                   # any header case
        (body + b" ", {"Mux-Signature": fresh}, "whsec"),
        (body, {"Mux-Signature": fresh}, "not-the-secret"),
        (body, {"Mux-Signature": sign("whsec", body, timestamp=int(time.time()) - 400)}, "whsec"),
        # the vector: the SDK gets past the signature check and stops only at the 300 s age limit
        (VECTOR_BODY, {"Mux-Signature": f"t={VECTOR_T},v1={VECTOR_V1}"}, VECTOR_SECRET),
        (VECTOR_BODY, {"Mux-Signature": f"t={VECTOR_T},v1={'0' * 64}"}, VECTOR_SECRET),
    ])
    assert results[0] == {"ok": True, "id": "a-b", "type": "video.upload.created"}
    assert results[1]["ok"] is True
    assert [r["ok"] for r in results[2:]] == [False] * 5
    assert "No signatures found matching" in results[2]["error"]
    assert "No signatures found matching" in results[3]["error"]
    assert results[4]["error"] == "Webhook timestamp is too old"
    assert results[5]["error"] == "Webhook timestamp is too old"
    assert "No signatures found matching" in results[6]["error"]
