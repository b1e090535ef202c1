"""``upload FILE``: create (or find again) a direct upload, send the bytes, wait for the asset.

The run goes through phases (``start`` → ``upload`` → ``wait``); the phase and the resume record decide
what an interruption or a lost gateway tells the user to do next. The resume record is removed only
when the run ends with a final answer (asset ready or errored, upload errored, or ``--no-wait`` done).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal, TextIO

from upgw.api import Api, Credentials
from upgw.console import Console
from upgw.errors import EXIT_ERRORED, EXIT_READY, CliError, HttpError, UploadErrored, UploadUnavailable
from upgw.http import Backoff
from upgw.ietf import IetfTransfer
from upgw.options import UploadOptions
from upgw.state import FileIdentity, ResumeRecord, StateStore
from upgw.summary import describe
from upgw.transfer import Transfer
from upgw.wait import AssetWaiter, asset_id_of


class UploadCommand:
    def __init__(self, options: UploadOptions, console: Console, out: TextIO, rerun: str) -> None:
        self.options = options
        self.console = console
        self.out = out
        self.rerun = rerun          # the command line to run again to resume
        self.phase = "start"
        self.record: ResumeRecord | None = None
        self.transfer: Transfer | IetfTransfer | None = None
        self.waiter: AssetWaiter | None = None
        self.store = StateStore(options.state_dir)

    def run(self) -> int:
        path = self.options.file
        if not path.is_file():
            raise CliError(f"{path}: not a readable file")
        api = Api(self.options.url, Credentials.parse(self.options.token),
                  backoff=Backoff(retries=self.options.retries), notice=self.console.say)
        identity = FileIdentity.of(path, self.options.url)
        uploaded = self._upload(api, identity)
        if not self.options.wait:
            return self._finish_without_waiting(api, identity)
        self.phase = "wait"
        self.waiter = AssetWaiter(api, self.console)
        try:
            asset = self.waiter.wait(uploaded.upload_id, self.options.timeout)
        except UploadErrored:
            self.store.forget(identity)
            raise
        self.store.forget(identity)
        self._print(asset, uploaded.upload_id)
        return EXIT_READY if asset.get("status") == "ready" else EXIT_ERRORED

    def _upload(self, api: Api, identity: FileIdentity) -> ResumeRecord:
        """Send the file: continue the stored upload if it still takes bytes, else start a new one."""
        stored = self.store.load(identity)
        if stored is not None:
            state = self._stored_state(api, stored)
            if state == "finished":
                self.record = stored
                return stored
            if state == "resumable":
                try:
                    return self._send(stored, resume=True)
                except UploadUnavailable as exc:
                    self._drop(identity, str(exc))
        upload = api.create_upload(self.options.new_asset_settings())
        record = self.store.save(identity, upload)
        self.console.say(f"created upload {record.upload_id} (resume state: {self.store.path(identity)})")
        return self._send(record, resume=False)

    def _send(self, record: ResumeRecord, *, resume: bool) -> ResumeRecord:
        self.record = record
        self.phase = "upload"
        sender = IetfTransfer if self.options.protocol == "ietf" else Transfer
        self.transfer = sender(self.options.file, record, chunk_size=self.options.chunk_size,
                               backoff=Backoff(retries=self.options.retries), console=self.console)
        started = time.monotonic()
        self.transfer.run(resume=resume)
        self.console.say(f"upload {record.upload_id} complete ({record.identity.length} bytes; this run took "
                         f"{time.monotonic() - started:.1f}s)")
        return record

    def _stored_state(self, api: Api, record: ResumeRecord) -> Literal["resumable", "finished", "gone"]:
        """What the gateway says about a stored upload (a gone one is forgotten, with a message)."""
        try:
            finished = asset_id_of(api.get_upload(record.upload_id)) is not None
        except (UploadUnavailable, UploadErrored) as exc:
            self._drop(record.identity, str(exc))
            return "gone"
        except HttpError as exc:
            if exc.status != 404:
                raise
            self._drop(record.identity, f"upload {record.upload_id} no longer exists")
            return "gone"
        if finished:
            self.console.say(f"upload {record.upload_id} was already finished; waiting for its asset")
            return "finished"
        return "resumable"

    def _drop(self, identity: FileIdentity, why: str) -> None:
        self.store.forget(identity)
        self.console.say(f"the stored upload cannot be continued ({why}); starting a new upload")

    def _finish_without_waiting(self, api: Api, identity: FileIdentity) -> int:
        assert self.record is not None
        upload = api.get_upload(self.record.upload_id)
        self.store.forget(identity)
        if self.options.json:
            self._write(json.dumps(upload, indent=2))
        else:
            asset = f"; asset {upload['asset_id']} is being prepared" if upload.get("asset_id") else ""
            self._write(f"upload {upload['id']} {upload.get('status')}{asset}")
        return EXIT_ERRORED if upload.get("status") == "errored" else EXIT_READY

    def _print(self, asset: dict[str, Any], upload_id: str) -> None:
        self._write(json.dumps(asset, indent=2) if self.options.json else describe(asset, upload_id))

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def next_step(self) -> str:
        """What to do after the run was interrupted or lost the gateway in the current phase."""
        if self.record is None:
            return "nothing was uploaded"
        if self.phase == "wait":
            asset = self.waiter.asset_id if self.waiter is not None else None
            what = f"asset {asset}" if asset else f"the asset of upload {self.record.upload_id}"
            return f"the upload is complete; run the same command again to keep waiting for {what}:\n  {self.rerun}"
        done = (f" (at least {self.transfer.offset} of {self.transfer.length} bytes are stored)"
                if self.transfer else "")
        return (f"upload {self.record.upload_id} is resumable{done}; run the same command again to "
                f"continue from the server's offset:\n  {self.rerun}")
