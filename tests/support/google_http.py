"""Google API clients over a fake service: the HTTP transport is the only thing replaced."""

import contextlib
import hashlib
import json

import requests
from google.auth.credentials import AnonymousCredentials


def json_response(request, status: int, payload: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps(payload).encode()
    response.request, response.url = request, request.url
    return response


RESOURCE_MANAGER = "https://cloudresourcemanager.googleapis.com/v3/projects/"


def project_number(project_id: str) -> str:
    """The fake's number of a project (12 digits, fixed per project id)."""
    return str(10 ** 11 + int(hashlib.sha256(project_id.encode()).hexdigest()[:12], 16)
               % (9 * 10 ** 11))


def _send(fake, request):
    """Resource Manager's GetProject (aiplatform checks who owns a bucket) is answered
    here for every fake: the number :func:`project_number` gives."""
    if request.url.startswith(RESOURCE_MANAGER):
        assert request.method == "GET", request.url
        project_id = request.url[len(RESOURCE_MANAGER):].split("?")[0]
        return json_response(request, 200, {"name": f"projects/{project_number(project_id)}",
                                            "projectId": project_id, "state": "ACTIVE"})
    return fake.send(request)


@contextlib.contextmanager
def intercepted(monkeypatch, fake):
    """Every ``requests`` call goes to ``fake.send(request)``; aiplatform uses REST, anonymously.

    Resource Manager's client (aiplatform asks it for a project's number) is made to
    use REST too, so that no call leaves for the network over gRPC.
    """
    from google.cloud import aiplatform, resourcemanager_v3

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send",
                        lambda adapter, request, **kw: _send(fake, request))
    client_init = resourcemanager_v3.ProjectsClient.__init__

    def over_rest(self, *args, transport=None, **kwargs):
        client_init(self, *args, transport=transport or "rest", **kwargs)

    monkeypatch.setattr(resourcemanager_v3.ProjectsClient, "__init__", over_rest)
    aiplatform.init(api_transport="rest", credentials=AnonymousCredentials())
    try:
        yield fake
    finally:
        aiplatform.init(api_transport="grpc")
