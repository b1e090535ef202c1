"""The command-line uploader: `upgw upload FILE` (`.venv/bin/upgw` outside the venv), `python -m upgw`, or
``python -m gateway upload FILE``. A client package of its own: it never imports redis, minio or saq.

Modules: ``options`` (arguments), ``api`` (the Mux-style JSON API), ``http`` (requests and retries),
``state`` (resume records), ``transfer`` (tuspy, resuming from the server's offset), ``ietf`` (the same
with the IETF Resumable Uploads draft, ``--protocol ietf``), ``progress`` and
``console`` (stderr), ``wait`` (following the upload to its asset), ``summary`` (the final text),
``upload`` (the command itself) and ``errors`` (exit codes).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence

from upgw.console import Console
from upgw.errors import EXIT_INTERRUPTED, CliError, GatewayUnreachable, WaitTimedOut
from upgw.options import add_upload_parser, upload_options
from upgw.upload import UploadCommand


def build_parser(prog: str, environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Command-line client of the upload gateway")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_upload_parser(commands, environ)
    return parser


def _masked(token: str) -> str:
    return token.split(":", 1)[0] + ":***" if ":" in token else "***"


def shown_command(prog: str, argv: Sequence[str]) -> str:
    """The command line to run again, with the secret of a ``--token`` argument masked."""
    shown: list[str] = []
    for i, arg in enumerate(argv):
        if i > 0 and argv[i - 1] == "--token":
            arg = _masked(arg)
        elif arg.startswith("--token="):
            arg = "--token=" + _masked(arg.removeprefix("--token="))
        shown.append(arg)
    return f"{prog} {shlex.join(shown)}"


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0]) or "upgw"
    try:
        args = build_parser(prog, os.environ).parse_args(args_list)
    except SystemExit as exc:   # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    options = upload_options(args)
    console = Console(sys.stderr)
    command = UploadCommand(options, console, sys.stdout, rerun=shown_command(prog, args_list))
    try:
        return command.run()
    except KeyboardInterrupt:
        console.stop_progress()
        console.say(f"interrupted: {command.next_step()}")
        return EXIT_INTERRUPTED
    except CliError as exc:
        console.stop_progress()
        console.say(f"error: {exc}")
        if isinstance(exc, GatewayUnreachable | WaitTimedOut):
            console.say(command.next_step())
        return exc.exit_code
