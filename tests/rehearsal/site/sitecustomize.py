"""Points a rehearsed task's Google clients at the rehearsal's emulators (this process only).

On ``PYTHONPATH`` of the rehearsal's task processes only, never in the package; active
when ``REHEARSAL_IDENTITY`` is set. What the environment alone cannot do:

- Beam's BigQuery REST client hard-codes ``https://bigquery.googleapis.com``: its
  ``BASE_URL`` becomes the identity's BigQuery front (``REHEARSAL_BIGQUERY_URL``), reached
  without the ``HTTPS_PROXY`` relay (Beam's httplib2 would send even loopback through it);
- Beam's batched GCS copy/delete (one multipart request) is answered "not multi-part" by
  fake-gcs-server: they run one object at a time;
- ``google.auth.default`` answers anonymous credentials at once (no metadata server here;
  the identity is the gateway's, not a token's);
- the aiplatform SDK and Resource Manager use REST (gRPC ignores ``HTTPS_PROXY``).
"""

import importlib.abc
import importlib.util
import os
import sys


def _beam_bigquery(module) -> None:
    module.BigqueryV2.BASE_URL = os.environ["REHEARSAL_BIGQUERY_URL"]


def _beam_http(module) -> None:
    import httplib2

    def get_new_http(timeout_secs=module.DEFAULT_HTTP_TIMEOUT_SECONDS):
        return httplib2.Http(timeout=timeout_secs)  # the BigQuery front is plain loopback HTTP

    module.get_new_http = get_new_http


def _beam_gcsio(module) -> None:
    def delete_batch(self, paths):
        results = []
        for path in list(paths):
            try:
                self.delete(path)
                results.append((path, None))
            except Exception as err:  # reported per path, as the batch call does
                results.append((path, err))
        return results

    def copy_batch(self, pairs):
        results = []
        for src, dest in pairs:
            try:
                self.copy(src, dest)
                results.append((src, dest, None))
            except Exception as err:
                results.append((src, dest, err))
        return results

    module.GcsIO.delete_batch, module.GcsIO.copy_batch = delete_batch, copy_batch


def _google_auth(module) -> None:
    from google.auth.credentials import AnonymousCredentials

    def default(scopes=None, request=None, quota_project_id=None, default_scopes=None):
        return AnonymousCredentials(), os.environ.get("GOOGLE_CLOUD_PROJECT")

    module.default = default


def _aiplatform(module) -> None:
    module.global_config._api_transport = "rest"


def _resource_manager(module) -> None:
    client_init = module.ProjectsClient.__init__

    def over_rest(self, *args, transport=None, **kwargs):
        client_init(self, *args, transport=transport or "rest", **kwargs)

    module.ProjectsClient.__init__ = over_rest


HOOKS = {
    "apache_beam.internal.http_client": _beam_http,
    "apache_beam.io.gcp.internal.clients.bigquery.bigquery_v2_client": _beam_bigquery,
    "apache_beam.io.gcp.gcsio": _beam_gcsio,
    "google.auth": _google_auth,
    "google.cloud.aiplatform.initializer": _aiplatform,
    "google.cloud.resourcemanager_v3.services.projects.client": _resource_manager,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``HOOKS[name](module)`` right after the module ``name`` is first executed."""

    def find_spec(self, name, path, target=None):
        if name not in HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        execute = spec.loader.exec_module

        def exec_module(module, execute=execute, hook=HOOKS[name]):
            execute(module)
            hook(module)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("REHEARSAL_IDENTITY"):
    sys.meta_path.insert(0, _AfterImport())
