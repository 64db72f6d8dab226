"""Who the provider is to the runner: settings read from the connection, and ID tokens.

On Cloud Run the runner accepts a Google ID token whose audience is its URL, from an
identity holding ``roles/run.invoker``. A token is fetched for every request and never
kept: trigger arguments are written to Airflow's database, and a token lasts an hour.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTH_MODES = ("none", "google_id_token")
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class ConnectionSettingsError(ValueError):
    """A ``fullcycle_runner`` connection that cannot be used as it is."""


class IdTokenError(RuntimeError):
    """No Google ID token could be had for the runner (no credentials, impersonation refused)."""


@dataclass(frozen=True)
class RunnerSettings:
    """What a ``fullcycle_runner`` connection says: where the runner is and how to sign in."""

    url: str
    auth: str = "none"
    audience: str | None = None
    impersonation_chain: tuple[str, ...] = ()

    @classmethod
    def from_connection(cls, conn) -> RunnerSettings:
        """Reads an Airflow connection (host = the runner URL; extras ``auth``, ``audience``,
        ``impersonation_chain``), naming the connection and the field on bad values."""
        conn_id = getattr(conn, "conn_id", None)
        host = (conn.host or "").strip()
        if not host:
            raise ConnectionSettingsError(
                f"connection {conn_id!r}: host is empty; set it to the runner's URL, e.g. "
                "http://127.0.0.1:8080 or https://fullcycle-runner-xxxx.a.run.app")
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
        extra = conn.extra_dejson or {}
        auth = str(extra.get("auth", "none")).strip()
        if auth not in AUTH_MODES:
            raise ConnectionSettingsError(
                f"connection {conn_id!r}: extra 'auth' is {auth!r}; allowed: "
                f"{', '.join(AUTH_MODES)}")
        chain = extra.get("impersonation_chain") or ()
        if isinstance(chain, str):
            chain = [part.strip() for part in chain.split(",") if part.strip()]
        if not isinstance(chain, (list, tuple)) or not all(isinstance(c, str) for c in chain):
            raise ConnectionSettingsError(
                f"connection {conn_id!r}: extra 'impersonation_chain' is {chain!r}; allowed: "
                "a service account email, a comma-separated string or a list of them")
        if chain and auth != "google_id_token":
            raise ConnectionSettingsError(
                f"connection {conn_id!r}: extra 'impersonation_chain' needs auth "
                f"'google_id_token', not {auth!r}")
        audience = extra.get("audience") or None
        return cls(url=host.rstrip("/"), auth=auth, audience=audience,
                   impersonation_chain=tuple(chain))

    @property
    def token_audience(self) -> str:
        """The audience of the ID token: the ``audience`` extra, else the runner's URL."""
        return self.audience or self.url


def fetch_id_token(settings: RunnerSettings) -> str:
    """A fresh Google ID token for the runner (blocking; call it in a thread from async code).

    Without an impersonation chain: ``google.oauth2.id_token.fetch_id_token`` (the
    metadata server on Composer/GCE, or a service-account key file named by
    ``GOOGLE_APPLICATION_CREDENTIALS``). With one: the default credentials impersonate
    the chain's last account (the others are delegates) and mint its ID token.
    """
    import google.auth
    from google.auth import impersonated_credentials
    from google.auth.transport.requests import Request
    from google.oauth2 import id_token

    audience = settings.token_audience
    if not settings.impersonation_chain:
        return id_token.fetch_id_token(Request(), audience)
    source, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    *delegates, target = settings.impersonation_chain
    target_credentials = impersonated_credentials.Credentials(
        source_credentials=source, target_principal=target, delegates=delegates or None,
        target_scopes=[CLOUD_PLATFORM_SCOPE])
    credentials = impersonated_credentials.IDTokenCredentials(
        target_credentials, target_audience=audience, include_email=True)
    credentials.refresh(Request())
    return credentials.token


def auth_headers(settings: RunnerSettings) -> dict[str, str]:
    """The ``Authorization`` header this connection needs (none for ``auth`` = ``none``)."""
    if settings.auth != "google_id_token":
        return {}
    from google.auth.exceptions import GoogleAuthError

    try:
        return {"Authorization": f"Bearer {fetch_id_token(settings)}"}
    except GoogleAuthError as err:
        via = (f" impersonating {settings.impersonation_chain[-1]}"
               if settings.impersonation_chain else "")
        raise IdTokenError(f"no Google ID token for audience {settings.token_audience}{via}: "
                           f"{type(err).__name__}: {err}") from err
