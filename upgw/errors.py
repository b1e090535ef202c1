"""What can end an ``upload`` run, each with the exit code it maps to (in one place, ``exit_code``).

    CliError                  2  usage: bad arguments, a file that is not there, a request the gateway refuses
      AuthFailed              2  401: the API token is missing or wrong
      GatewayUnreachable      3  no answer (or only 5xx) after every retry
      WaitTimedOut            4  the asset was still not ready or errored when ``--timeout`` ran out
      UploadUnavailable          the stored upload is gone, expired or cancelled (handled: start fresh)
      UploadErrored           1  the gateway refused the finished upload (e.g. an empty file): no asset

An errored asset is not an exception: it is the normal end of a run and exits 1. Ctrl-C exits 130.
"""

from __future__ import annotations

EXIT_READY = 0
EXIT_ERRORED = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_WAIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130


class CliError(Exception):
    exit_code = EXIT_USAGE


class AuthFailed(CliError):
    exit_code = EXIT_USAGE


class GatewayUnreachable(CliError):
    exit_code = EXIT_NETWORK


class WaitTimedOut(CliError):
    exit_code = EXIT_WAIT_TIMEOUT


class UploadUnavailable(CliError):
    """The upload a resume record points at can no longer take bytes (404/410, cancelled, timed out)."""


class UploadErrored(CliError):
    exit_code = EXIT_ERRORED


class HttpError(CliError):
    """The gateway answered with an error that retrying will not fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
