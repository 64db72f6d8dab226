"""The canary's state on Vertex AI: a JSON object in the model's bucket, leased per tick.

Cloud Run keeps nothing between requests, so the rollout state lives at
``gs://<bucket>/rollouts/<model>.json`` (under ``rollouts/``, the only objects
the runner may write there). One tick at a time: the lock is a lease object
created with ``ifGenerationMatch=0`` (a second tick gets 409 until it is
released, or it expires after ``lease_seconds``), and the state is written with
the generation it was read at, so a tick whose lease expired cannot overwrite a
newer state.
"""

from __future__ import annotations

import contextlib
import json
import time

from pipelines.canary.controller import RolloutBusyError
from pipelines.cloud.google_api import google_errors
from pipelines.stack.names import ROLLOUT_PREFIX


class GcsRolloutStore:
    """A model's rollout state at ``gs://<bucket>/rollouts/<model>.json``, leased per tick."""

    def __init__(self, bucket: str, model: str, project: str | None = None, credentials=None,
                 lease_seconds: float = 900):
        from google.cloud import storage

        self.bucket_name, self.model, self.lease_seconds = bucket, model, lease_seconds
        self._bucket = storage.Client(project=project, credentials=credentials).bucket(bucket)
        self.state_name = f"{ROLLOUT_PREFIX}{model}.json"
        self.lease_name = f"{ROLLOUT_PREFIX}{model}.lease"
        self._generation = 0  # of the state as loaded; 0: there was none

    def _take_lease(self) -> int:
        from google.api_core.exceptions import PreconditionFailed

        lease = self._bucket.blob(self.lease_name)
        body = json.dumps({"model": self.model, "taken": time.time()})
        try:
            lease.upload_from_string(body, content_type="application/json",
                                     if_generation_match=0)
        except PreconditionFailed:
            if not self._break_expired_lease():
                raise RolloutBusyError(f"another tick of {self.model!r} holds "
                                  f"gs://{self.bucket_name}/{self.lease_name}; try again after "
                                  "it finishes") from None
            try:
                lease.upload_from_string(body, content_type="application/json",
                                         if_generation_match=0)
            except PreconditionFailed:
                raise RolloutBusyError(f"another tick of {self.model!r} took the lease first") \
                    from None
        return lease.generation

    def _break_expired_lease(self) -> bool:
        """Deletes a lease older than ``lease_seconds`` (its tick died); True if none is held."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        held = self._bucket.get_blob(self.lease_name)
        if held is None:
            return True
        if time.time() - held.updated.timestamp() < self.lease_seconds:
            return False
        with contextlib.suppress(NotFound, PreconditionFailed):
            held.delete(if_generation_match=held.generation)
        return True

    @contextlib.contextmanager
    def exclusive(self):
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with google_errors(f"taking the rollout lease in gs://{self.bucket_name}"):
            generation = self._take_lease()
        try:
            yield
        finally:
            # Gone or replaced: it expired and another tick broke it; the state's own
            # generation check kept this tick from overwriting that tick's state.
            with google_errors(f"releasing the rollout lease in gs://{self.bucket_name}"), \
                    contextlib.suppress(NotFound, PreconditionFailed):
                self._bucket.blob(self.lease_name).delete(if_generation_match=generation)

    def load(self) -> dict | None:
        with google_errors(f"reading gs://{self.bucket_name}/{self.state_name}"):
            blob = self._bucket.get_blob(self.state_name)
            if blob is None:
                self._generation = 0
                return None
            data = blob.download_as_bytes(if_generation_match=blob.generation)
        self._generation = blob.generation
        return json.loads(data)

    def save(self, state: dict) -> None:
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(self.state_name)
        with google_errors(f"writing gs://{self.bucket_name}/{self.state_name}"):
            try:
                blob.upload_from_string(json.dumps(state, indent=1),
                                        content_type="application/json",
                                        if_generation_match=self._generation)
            except PreconditionFailed:
                raise RolloutBusyError(f"the rollout state of {self.model!r} changed during this "
                                  "tick (its lease expired and another tick took over); "
                                  "nothing was overwritten") from None
        self._generation = blob.generation
