"""``python -m gateway [--config PATH]``: run the gateway.

``python -m gateway upload FILE ...`` runs the command-line uploader instead (:mod:`upgw`); the
server's modules are imported only when the server runs, so the uploader starts quickly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["upload"]:
        from upgw import main as cli_main
        return cli_main(args_list, prog="python -m gateway")
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Resumable-upload gateway",
                                     epilog="python -m gateway upload FILE uploads a file through a running "
                                            "gateway (see python -m gateway upload --help)")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML settings file (default: ./config.yaml if present)")
    args = parser.parse_args(argv)

    from aiohttp import web

    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.settings import settings_for_command

    settings = settings_for_command(args.config, "gateway")
    if settings is None:
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
