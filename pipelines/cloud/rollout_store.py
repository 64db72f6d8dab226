"""The canary's state on Vertex AI: a JSON object in the model's bucket, and the model's lease.

Cloud Run keeps nothing between requests, so the rollout state lives at
``gs://<bucket>/rollouts/<model>.json`` (under ``rollouts/``, the only objects
the runner may write there). One change of the model's endpoint at a time: a
rollout tick and the VertexPusher's "check the endpoint, deploy" both hold the
model's lease, ``rollouts/<model>.lease``, created with ``ifGenerationMatch=0``.

The lease knows its owner: it holds a random token, who holds it and until when
(``expires``). The storage client retries a create whose response was lost; the
retry gets 412 although the first attempt made the lease, so a 412 is read back
and recognised as ours by the token. A lease past ``expires`` (its holder was
killed) is broken by the next taker. The state is written with the generation it
was read at, so a holder whose lease expired cannot overwrite a newer state.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid

from pipelines.canary.controller import RolloutBusyError
from pipelines.cloud.google_api import google_errors
from pipelines.stack.names import ROLLOUT_PREFIX

TICK_HOLDER = "a rollout tick"  # who holds the lease when no holder is named
TICK_LEASE_SECONDS = 900.0  # a tick reads metrics and moves traffic: minutes at most
PUSH_LEASE_SECONDS = 3600.0  # uploading a version and deploying it: Vertex takes ~10-30 min


class GcsRolloutStore:
    """A model's rollout state at ``gs://<bucket>/rollouts/<model>.json``, and its lease."""

    def __init__(self, bucket: str, model: str, project: str | None = None, credentials=None,
                 lease_seconds: float = TICK_LEASE_SECONDS, lease_name: str | None = None):
        """``lease_name``: another lease object than the model's (a cloud score's append
        holds ``scores/<score id>.lease``, ``pipelines/cloud/score_append.py``)."""
        from google.cloud import storage

        self.bucket_name, self.model, self.lease_seconds = bucket, model, lease_seconds
        self._bucket = storage.Client(project=project, credentials=credentials).bucket(bucket)
        self.state_name = f"{ROLLOUT_PREFIX}{model}.json"
        self.lease_name = lease_name or f"{ROLLOUT_PREFIX}{model}.lease"
        self._generation = 0  # of the state as loaded; 0: there was none
        self._lease = 0  # the generation of the lease this store holds; 0: none

    @property
    def lease_uri(self) -> str:
        return f"gs://{self.bucket_name}/{self.lease_name}"

    def _held(self, looks: int = 3) -> tuple[int, dict, float] | None:
        """The lease as it is: (generation, body, expires), None if there is none."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        blob = self._bucket.get_blob(self.lease_name)
        if blob is None:
            return None
        try:
            body = json.loads(blob.download_as_bytes(if_generation_match=blob.generation))
        except (NotFound, PreconditionFailed):  # released or replaced meanwhile: look again
            if looks > 1:
                return self._held(looks - 1)
            body = {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        expires = body.get("expires")
        if not isinstance(expires, (int, float)):  # a lease without one: its age decides
            expires = blob.updated.timestamp() + self.lease_seconds
        return blob.generation, body, float(expires)

    def _take_lease(self, holder: str, seconds: float) -> int:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        token = uuid.uuid4().hex
        now = time.time()
        body = json.dumps({"owner": token, "holder": holder, "model": self.model,
                           "taken": now, "expires": now + seconds})
        lease = self._bucket.blob(self.lease_name)
        for attempt in range(2):
            try:
                lease.upload_from_string(body, content_type="application/json",
                                         if_generation_match=0)
                return lease.generation
            except PreconditionFailed:
                held = self._held()
            if held is not None and held[1].get("owner") == token:
                return held[0]  # our create succeeded; its retry was refused
            if held is not None and held[2] > time.time():
                taken = held[1].get("taken")
                age = (f"taken {time.time() - taken:.0f} s ago, "
                       if isinstance(taken, (int, float)) else "")
                raise RolloutBusyError(
                    f"{held[1].get('holder', 'another tick')} of {self.model!r} holds "
                    f"{self.lease_uri} ({age}expires in {held[2] - time.time():.0f} s); "
                    "try again after it finishes", holder=held[1].get("holder", TICK_HOLDER))
            if held is not None and attempt == 0:  # its holder died: break it, take it
                with contextlib.suppress(NotFound, PreconditionFailed):
                    self._bucket.blob(self.lease_name).delete(if_generation_match=held[0])
        raise RolloutBusyError(f"another holder of {self.model!r} took {self.lease_uri} first")

    @contextlib.contextmanager
    def exclusive(self, holder: str = TICK_HOLDER, seconds: float | None = None):
        """Holds the model's lease for the block; ``holder`` says who (in a busy error)."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with google_errors(f"taking the lease {self.lease_uri}"):
            self._lease = self._take_lease(holder, self.lease_seconds if seconds is None
                                           else seconds)
        try:
            yield
        finally:
            # Gone or replaced: it expired and another holder broke it; the state's own
            # generation check kept this holder from overwriting that one's state.
            with google_errors(f"releasing the lease {self.lease_uri}"), \
                    contextlib.suppress(NotFound, PreconditionFailed):
                self._bucket.blob(self.lease_name).delete(if_generation_match=self._lease)
            self._lease = 0

    def extend(self, seconds: float) -> None:
        """Makes the lease held (``exclusive``) last ``seconds`` from now, if it is still
        ours: before a step whose effect outlives this process (a BigQuery DML job runs
        on after a kill), so no other holder can start the same step meanwhile. Raises
        ``RolloutBusyError`` when the lease expired and was broken or taken since."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        lost = RolloutBusyError(f"the lease {self.lease_uri} of {self.model!r} expired and "
                                "another holder broke it; this holder stopped before its "
                                "next step")
        with google_errors(f"extending the lease {self.lease_uri}"):
            blob = self._bucket.get_blob(self.lease_name)
            if not self._lease or blob is None or blob.generation != self._lease:
                raise lost
            try:
                body = json.loads(blob.download_as_bytes(if_generation_match=self._lease))
                body["expires"] = max(float(body.get("expires", 0)), time.time() + seconds)
                blob.upload_from_string(json.dumps(body), content_type="application/json",
                                        if_generation_match=self._lease)
            except (NotFound, PreconditionFailed):
                raise lost from None
            self._lease = blob.generation

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
        """Writes ``state`` if nobody wrote since it was loaded; a retried write whose first
        attempt succeeded (412 on the retry) is recognised by reading the state back."""
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(self.state_name)
        text = json.dumps(state, indent=1)
        with google_errors(f"writing gs://{self.bucket_name}/{self.state_name}"):
            try:
                blob.upload_from_string(text, content_type="application/json",
                                        if_generation_match=self._generation)
            except PreconditionFailed:
                current = self._bucket.get_blob(self.state_name)
                if current is None or json.loads(current.download_as_bytes()) != json.loads(text):
                    raise RolloutBusyError(
                        f"the rollout state of {self.model!r} changed during this tick (its "
                        "lease expired and another tick took over); nothing was "
                        "overwritten") from None
                blob = current
        self._generation = blob.generation
