"""IETF Resumable Uploads against tus on the same gateway, file and client library, one run.

    .venv/bin/python bench/rufh.py --size 1GiB [--runs 3] [--backend filesystem|s3]

tus-js-client in Node uploads the same file with ``protocol: 'tus-v1'``, ``'ietf-draft-03'`` (interop 5)
and ``'ietf-draft-05'`` (interop 6), one PATCH and 8 MiB chunks, interleaved so that a noisy disk hits
every cell alike; prints the median MiB/s per cell and each IETF cell as a share of tus (aim: within 5%).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quick_bench import gateway, run_js  # noqa: E402
from gateway.core.units import parse_size  # noqa: E402
from tests.servers import start_redis, start_seaweedfs  # noqa: E402

MiB = 1024 * 1024
PROTOCOLS = ("tus-v1", "ietf-draft-03", "ietf-draft-05")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("filesystem", "s3"), default="filesystem")
    args = parser.parse_args()
    size = parse_size(args.size)
    redis = start_redis()
    s3 = start_seaweedfs() if args.backend == "s3" else None
    with tempfile.TemporaryDirectory(prefix="rufh-bench-") as tmp_name:
        tmp = Path(tmp_name)
        file = tmp / "payload.bin"
        with file.open("wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
            f.write(os.urandom(size % MiB))
        proc, endpoint = gateway(tmp, redis.url, args.backend, s3.endpoint if s3 else "")
        seconds: dict[tuple[str, str], list[float]] = {}
        try:
            for _ in range(args.runs):
                for chunk, label in ((None, "one PATCH"), (8 * MiB, "8 MiB chunks")):
                    for protocol in PROTOCOLS:
                        seconds.setdefault((label, protocol), []).append(run_js(endpoint, file, chunk, protocol))
        finally:
            proc.terminate()
            proc.wait(15)
            if s3 is not None:
                s3.stop()
            redis.stop()
    print(f"{size / MiB:.0f} MiB, {args.backend}, median of {args.runs} interleaved runs (MiB/s):")
    print(f"{'client mode':<14} " + " ".join(f"{p:>15}" for p in PROTOCOLS) + "   ietf-03/tus  ietf-05/tus")
    for label in ("one PATCH", "8 MiB chunks"):
        rates = [size / MiB / statistics.median(seconds[(label, p)]) for p in PROTOCOLS]
        print(f"{label:<14} " + " ".join(f"{r:>15.1f}" for r in rates)
              + f"   {rates[1] / rates[0]:>10.1%}  {rates[2] / rates[0]:>10.1%}")


if __name__ == "__main__":
    main()
