"""``python -m gateway [--config PATH]``: run the gateway."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from gateway.app import create_app
from gateway.logs import configure_logging
from gateway.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Resumable-upload gateway")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML settings file (default: ./config.yaml if present)")
    args = parser.parse_args(argv)
    path = args.config
    if path is None and Path("config.yaml").exists():
        path = Path("config.yaml")
    try:
        settings = load_settings(path)
    except (OSError, ValueError) as exc:
        print(f"gateway: cannot load settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log)
    logging.getLogger("gateway").info("gateway.starting", extra={
        "host": settings.server.host, "port": settings.server.port, "backend": settings.storage.backend})
    web.run_app(create_app(settings), host=settings.server.host, port=settings.server.port,
                shutdown_timeout=settings.server.shutdown_timeout, print=None, access_log=None,
                handler_cancellation=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
