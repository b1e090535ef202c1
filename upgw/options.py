"""Command-line options of ``upload`` (defaults from ``UPGW_URL`` / ``UPGW_TOKEN`` / ``UPGW_PROTOCOL``), as one
frozen value."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.core.units import parse_duration, parse_size

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_STATE_DIR = Path("~/.cache/upgw")
TIERS = ("1080p", "1440p", "2160p")
PROTOCOLS = ("tus", "ietf")

EPILOG = """\
exit codes: 0 asset ready (or upload finished with --no-wait), 1 asset (or upload) errored,
2 usage or authentication error, 3 gateway unreachable after retries, 4 --timeout ran out while
waiting, 130 interrupted. Run the same command again to resume an interrupted upload."""


@dataclass(frozen=True)
class UploadOptions:
    file: Path
    url: str
    token: str
    chunk_size: int
    protocol: str
    passthrough: str | None
    master_access: bool
    max_resolution_tier: str | None
    wait: bool
    timeout: float
    json: bool
    state_dir: Path
    retries: int

    def new_asset_settings(self) -> dict[str, object]:
        settings: dict[str, object] = {"playback_policies": ["public"]}
        if self.passthrough is not None:
            settings["passthrough"] = self.passthrough
        if self.master_access:
            settings["master_access"] = "temporary"
        if self.max_resolution_tier is not None:
            settings["max_resolution_tier"] = self.max_resolution_tier
        return settings


def _size(value: str) -> int:
    try:
        size = parse_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if size < 1:
        raise argparse.ArgumentTypeError("must be at least 1 byte")
    return size


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _protocol(value: str) -> str:
    # a type, not choices: argparse checks choices on the command line only, not a default from $UPGW_PROTOCOL
    if value not in PROTOCOLS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(PROTOCOLS)}")
    return value


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"not a count: {value!r}")
    return int(value)


def add_upload_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                      environ: Mapping[str, str]) -> None:
    parser = commands.add_parser(
        "upload", help="upload a file as a direct upload and wait for its asset",
        description="Create a direct upload, send FILE with tus (or the IETF Resumable Uploads draft),\n"
                    "wait for the asset and summarise it.\n"
                    "Resumable: after Ctrl-C or a lost connection, run the same command again.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--url", default=environ.get("UPGW_URL", DEFAULT_URL),
                        help="gateway base URL (default: $UPGW_URL or %(default)s)")
    parser.add_argument("--token", default=environ.get("UPGW_TOKEN", ""), metavar="ID:SECRET",
                        help="API token (default: $UPGW_TOKEN)")
    parser.add_argument("--chunk-size", type=_size, default=DEFAULT_CHUNK_SIZE, metavar="SIZE",
                        help="bytes per PATCH, e.g. 8MiB (default)")
    parser.add_argument("--protocol", type=_protocol, default=environ.get("UPGW_PROTOCOL", "tus"),
                        metavar="{tus,ietf}",
                        help="tus 1.0 to the upload's tus_endpoint, or ietf: the IETF Resumable Uploads "
                             "draft (interop version 6) to its url (default: $UPGW_PROTOCOL or tus)")
    parser.add_argument("--passthrough", default=None, help="stored on the asset as passthrough")
    parser.add_argument("--master-access", action="store_true",
                        help='ask for a temporary master download URL ("master_access": "temporary")')
    parser.add_argument("--max-resolution-tier", choices=TIERS, default=None)
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="stop once the bytes are uploaded (prints the upload, not the asset)")
    parser.add_argument("--timeout", type=_duration, default=600.0, metavar="DURATION",
                        help="how long to wait for the asset, e.g. 90s, 15m (default: 10m)")
    parser.add_argument("--json", action="store_true",
                        help="print only the final asset JSON on stdout (messages stay on stderr)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where resume state is kept (default: %(default)s)")
    parser.add_argument("--retries", type=_count, default=5,
                        help="retries of a failed request before giving up (default: %(default)s)")


def upload_options(args: argparse.Namespace) -> UploadOptions:
    return UploadOptions(
        file=args.file, url=args.url.rstrip("/"), token=args.token, chunk_size=args.chunk_size,
        protocol=args.protocol, passthrough=args.passthrough, master_access=args.master_access,
        max_resolution_tier=args.max_resolution_tier, wait=args.wait, timeout=args.timeout, json=args.json,
        state_dir=args.state_dir.expanduser(), retries=args.retries)
