"""FullcycleRunnerHook against the fake runner: the routes, the Idempotency-Key, retries,
ID tokens and connection errors."""

from __future__ import annotations

import asyncio

import pytest
from conftest import set_connection
from fake_runner import FakeRunner

from fullcycle_provider.auth import ConnectionSettingsError
from fullcycle_provider.hooks.runner import FullcycleRunnerHook, RunnerError


def test_trigger_run_posts_the_model_with_the_idempotency_key(fake_runner):
    answer = FullcycleRunnerHook().trigger_run("basic_template", "key-1")
    post = fake_runner.posts()[0]
    assert post["body"] == {"model": "basic_template"}
    assert post["headers"]["Idempotency-Key"] == "key-1"
    assert answer["run_id"] in fake_runner.runs and answer["duplicate"] is False


def test_overrides_go_in_the_body(fake_runner):
    FullcycleRunnerHook().trigger_run("basic_template", "k", {"train_steps": 20})
    assert fake_runner.posts()[0]["body"] == {"model": "basic_template",
                                              "overrides": {"train_steps": 20}}


def test_get_run_and_list_runs(fake_runner):
    hook = FullcycleRunnerHook()
    run_id = hook.trigger_run("basic_template", "k")["run_id"]
    hook.trigger_run("taxi_tips", "k2")
    assert hook.get_run(run_id)["state"] == "RUNNING"
    assert [r["run_id"] for r in hook.list_runs("basic_template")] == [run_id]
    assert fake_runner.requests[-1]["path"] == "/runs?model=basic_template"


def test_a_post_retried_after_503_keeps_its_key(fake_runner):
    fake_runner.fail_next.extend([503, 502])
    FullcycleRunnerHook(retry_delay=0).trigger_run("basic_template", "same")
    keys = [p["headers"]["Idempotency-Key"] for p in fake_runner.posts()]
    assert keys == ["same", "same", "same"]


def test_a_refusal_names_the_runners_reason(fake_runner):
    with pytest.raises(RunnerError, match=r"reading run 'nope': HTTP 404: unknown run 'nope'"):
        FullcycleRunnerHook().get_run("nope")


def test_an_unreachable_runner_is_named(monkeypatch):
    set_connection(monkeypatch, "http://127.0.0.1:9")
    with pytest.raises(RunnerError, match=r"runner at http://127.0.0.1:9 cannot be reached"):
        FullcycleRunnerHook(retries=1, retry_delay=0).get_run("x")


def test_401_says_which_auth_to_set(monkeypatch):
    runner = FakeRunner(token="secret")
    set_connection(monkeypatch, runner.url)
    try:
        with pytest.raises(RunnerError, match="google_id_token"):
            FullcycleRunnerHook().get_run("x")
    finally:
        runner.close()


@pytest.fixture
def id_tokens(monkeypatch):
    """Replaces Google's ID-token fetch: records audiences, hands out numbered tokens."""
    from google.oauth2 import id_token

    audiences: list[str] = []

    def fetch(request, audience):
        audiences.append(audience)
        return f"token-{len(audiences)}"

    monkeypatch.setattr(id_token, "fetch_id_token", fetch)
    return audiences


def test_google_id_token_for_the_runner_url_on_every_request(monkeypatch, id_tokens):
    runner = FakeRunner(token="token-1")
    set_connection(monkeypatch, runner.url + "/", auth="google_id_token")
    try:
        hook = FullcycleRunnerHook()
        run_id = hook.trigger_run("basic_template", "k")["run_id"]
        with pytest.raises(RunnerError, match="401"):  # token-2: fetched anew, not reused
            hook.get_run(run_id)
    finally:
        runner.close()
    assert id_tokens == [runner.url, runner.url]
    assert runner.requests[0]["headers"]["Authorization"] == "Bearer token-1"


def test_the_audience_extra_wins(monkeypatch, id_tokens, fake_runner):
    set_connection(monkeypatch, fake_runner.url, auth="google_id_token",
                   audience="https://runner.example")
    FullcycleRunnerHook().trigger_run("basic_template", "k")
    assert id_tokens == ["https://runner.example"]


def test_the_trigger_path_fetches_its_own_token(monkeypatch, id_tokens, fake_runner):
    set_connection(monkeypatch, fake_runner.url, auth="google_id_token")
    run_id = FullcycleRunnerHook().trigger_run("basic_template", "k")["run_id"]
    assert asyncio.run(FullcycleRunnerHook().aget_run(run_id))["state"] == "RUNNING"
    assert id_tokens == [fake_runner.url, fake_runner.url]
    assert fake_runner.requests[-1]["headers"]["Authorization"] == "Bearer token-2"


def test_impersonation_mints_the_target_accounts_id_token(monkeypatch, fake_runner):
    import google.auth
    from google.auth import impersonated_credentials

    seen = {}

    class IDTokenCredentials:
        def __init__(self, target, target_audience, include_email):
            seen.update(target=target, audience=target_audience)
            self.token = None

        def refresh(self, request):
            self.token = "impersonated"

    def credentials(**kwargs):
        seen.update(kwargs)
        return "target-credentials"

    monkeypatch.setattr(google.auth, "default", lambda scopes: ("source", "project"))
    monkeypatch.setattr(impersonated_credentials, "Credentials", credentials)
    monkeypatch.setattr(impersonated_credentials, "IDTokenCredentials", IDTokenCredentials)
    set_connection(monkeypatch, fake_runner.url, auth="google_id_token",
                   impersonation_chain="hop@p.iam.gserviceaccount.com, "
                                       "invoker@p.iam.gserviceaccount.com")
    FullcycleRunnerHook().trigger_run("basic_template", "k")
    assert seen["target_principal"] == "invoker@p.iam.gserviceaccount.com"
    assert seen["delegates"] == ["hop@p.iam.gserviceaccount.com"]
    assert seen["source_credentials"] == "source" and seen["audience"] == fake_runner.url
    assert fake_runner.requests[0]["headers"]["Authorization"] == "Bearer impersonated"


@pytest.mark.parametrize("host, extra, message", [
    ("", {}, r"connection 'fullcycle_default': host is empty"),
    ("http://x", {"auth": "oidc"}, r"extra 'auth' is 'oidc'; allowed: none, google_id_token"),
    ("http://x", {"impersonation_chain": "a@b"}, r"needs auth 'google_id_token', not 'none'"),
    ("http://x", {"auth": "google_id_token", "impersonation_chain": 3},
     r"extra 'impersonation_chain' is 3"),
])
def test_bad_connections_are_named(monkeypatch, host, extra, message):
    set_connection(monkeypatch, host, **extra)
    with pytest.raises(ConnectionSettingsError, match=message):
        FullcycleRunnerHook().settings()


def test_a_host_without_scheme_takes_https(monkeypatch):
    set_connection(monkeypatch, "runner.a.run.app")
    assert FullcycleRunnerHook().settings().url == "https://runner.a.run.app"


def test_no_credentials_is_a_clear_runner_error(monkeypatch, fake_runner):
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import id_token

    def fetch(request, audience):
        raise DefaultCredentialsError("Neither metadata server or valid service account")

    monkeypatch.setattr(id_token, "fetch_id_token", fetch)
    set_connection(monkeypatch, fake_runner.url, auth="google_id_token")
    with pytest.raises(RunnerError, match=rf"starting a run of 'm': no Google ID token for "
                                          rf"audience {fake_runner.url}: DefaultCredentialsError"):
        FullcycleRunnerHook().trigger_run("m", "k")
    with pytest.raises(RunnerError, match="no Google ID token"):
        asyncio.run(FullcycleRunnerHook().aget_run("r"))
