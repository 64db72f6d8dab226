"""Google API clients over a fake service: the HTTP transport is the only thing replaced."""

import contextlib
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


@contextlib.contextmanager
def intercepted(monkeypatch, fake):
    """Every ``requests`` call goes to ``fake.send(request)``; aiplatform uses REST, anonymously."""
    from google.cloud import aiplatform

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send",
                        lambda adapter, request, **kw: fake.send(request))
    aiplatform.init(api_transport="rest", credentials=AnonymousCredentials())
    try:
        yield fake
    finally:
        aiplatform.init(api_transport="grpc")
