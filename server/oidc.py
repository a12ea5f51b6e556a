"""OpenID Connect sign-in, the protocol half: discovery, the redirect, the callback checks.

Configured by ``OIDC_ISSUER``, ``OIDC_CLIENT_ID``, ``OIDC_CLIENT_SECRET``, ``OIDC_SCOPES``
and ``OIDC_DISPLAY_NAME`` (``docs/oidc.md``). authlib's Starlette client runs the
authorization code flow with PKCE (S256), a ``state`` and a ``nonce``; the provider's
endpoints and keys come from ``<issuer>/.well-known/openid-configuration``, whose
``issuer`` must be the configured one. The ID token's signature (asymmetric algorithms
only), issuer, audience, expiry and nonce are checked. When the ID token carries no
email, the UserInfo endpoint is asked (plain JSON, or a signed JWT as ProConnect sends),
and its ``sub`` must be the ID token's.

Between the redirect and the callback the browser holds the pending sign-in (state,
nonce, PKCE verifier, where to go next) in a cookie signed with ``SECRET_KEY`` and valid
10 minutes; it is read and deleted at the callback. A cookie rather than
``SessionMiddleware``: only these two routes touch it, it is ``__Host-``-prefixed and
``Secure`` over HTTPS per request like the session cookie, and no other page carries
a session it does not need. Several processes must therefore share one ``SECRET_KEY``.

Who the verified identity *is* (members only) is decided in ``auth/oidc_link.py``.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from typing import Any

import authlib.deprecate  # noqa: F401 - installs authlib's warning filter before ours
import httpx
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import Response

from auth.oidc_link import OidcClaims
from server.config import Settings

with warnings.catch_warnings():
    # authlib 1.9 announces, once at import, that it would rather run on httpx2 than on
    # httpx; nothing an operator can act on, so it stays out of the logs.
    warnings.filterwarnings(
        "ignore", message="The httpx module is deprecated", category=DeprecationWarning
    )
    from authlib.integrations.starlette_client import OAuth, OAuthError
    from authlib.integrations.starlette_client.apps import StarletteOAuth2App

log = logging.getLogger(__name__)

PENDING_COOKIE = "atelier_oidc"
SECURE_PENDING_COOKIE = "__Host-atelier_oidc"
PENDING_MAX_AGE = 600  # seconds to come back from the provider
CLIENT_NAME = "oidc"
HTTP_TIMEOUT = 10.0
CLOCK_LEEWAY = 60  # seconds of clock skew tolerated on exp / iat / nbf
# Signatures checked with the provider's published keys: never "none", never HMAC.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)

# ``OidcFailure.reason`` values (also written to the audit log).
PROVIDER_UNAVAILABLE = "provider_unavailable"
PROVIDER_MISCONFIGURED = "provider_misconfigured"
MISSING_STATE = "missing_state"
INVALID_STATE = "invalid_state"
ACCESS_DENIED = "access_denied"
PROVIDER_ERROR = "provider_error"
TOKEN_REFUSED = "token_refused"  # noqa: S105 - a reason, not a secret
INVALID_ID_TOKEN = "invalid_id_token"  # noqa: S105
INVALID_USERINFO = "invalid_userinfo"


class OidcFailure(Exception):
    """The flow failed before we knew who the person is (``reason``, an HTTP status)."""

    def __init__(self, reason: str, status_code: int = 400, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.status_code = status_code
        self.detail = detail


def oidc_login_context(settings: Settings) -> dict[str, Any]:
    """What the sign-in page needs to show (or not) the provider's button."""
    return {"oidc_enabled": settings.oidc_enabled, "oidc_name": settings.oidc_display_name}


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def signing_key(settings: Settings) -> str:
    """``SECRET_KEY``, or a random key for this process (with a warning if OIDC is on)."""
    if settings.secret_key:
        return settings.secret_key
    if settings.oidc_enabled:
        log.warning(
            "SECRET_KEY is not set: using a random key for this process. Set the same "
            "SECRET_KEY on every process, or OpenID Connect sign-ins that come back to "
            "another process (or after a restart) fail."
        )
    return secrets.token_urlsafe(32)


def _is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class OidcClient:
    """The configured provider: builds the redirect, verifies the callback."""

    def __init__(self, settings: Settings, secret_key: str) -> None:
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.display_name = settings.oidc_display_name
        self._has_secret = bool(settings.oidc_client_secret)
        oauth = OAuth()
        self._app: StarletteOAuth2App = oauth.register(
            name=CLIENT_NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret or None,
            server_metadata_url=discovery_url(settings.oidc_issuer),
            client_kwargs={
                "scope": settings.oidc_scopes,
                # authlib sends code_challenge (S256) only when this is set.
                "code_challenge_method": "S256",
                "timeout": HTTP_TIMEOUT,
            },
        )
        self._serializer = URLSafeTimedSerializer(secret_key, salt="atelier.oidc.pending")
        self._metadata_checked = False

    # -- discovery ----------------------------------------------------------------------
    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once and checked.

        Raises:
            OidcFailure: unreachable (502), or a document Atelier must not trust (502).
        """
        try:
            metadata: dict[str, Any] = await self._app.load_server_metadata()
        except (httpx.HTTPError, ValueError) as exc:
            self._app.server_metadata.clear()
            log.warning("OpenID provider discovery failed: %s", exc)
            raise OidcFailure(PROVIDER_UNAVAILABLE, 502, str(exc)) from exc
        if not self._metadata_checked:
            try:
                self._check_metadata(metadata)
            except OidcFailure:
                self._app.server_metadata.clear()  # fetched again next time
                raise
            self._metadata_checked = True
        return metadata

    def _check_metadata(self, metadata: dict[str, Any]) -> None:
        def refuse(detail: str) -> OidcFailure:
            log.error("OpenID provider %s refused: %s", self.issuer, detail)
            return OidcFailure(PROVIDER_MISCONFIGURED, 502, detail)

        if metadata.get("issuer") != self.issuer:
            raise refuse(
                f"its discovery document names the issuer {metadata.get('issuer')!r}, "
                f"OIDC_ISSUER is {self.issuer!r} (they must be identical)"
            )
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(endpoint), str):
                raise refuse(f"its discovery document has no {endpoint}")
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        allowed = [alg for alg in algorithms if alg in ASYMMETRIC_ALGORITHMS]
        if not allowed:
            raise refuse(f"it signs ID tokens with none of {', '.join(ASYMMETRIC_ALGORITHMS)}")
        metadata["id_token_signing_alg_values_supported"] = allowed
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if not self._has_secret:
            method = "none"
        elif "client_secret_basic" in methods:
            method = "client_secret_basic"
        elif "client_secret_post" in methods:
            method = "client_secret_post"  # ProConnect
        else:
            raise refuse(f"it accepts none of our client authentications ({methods})")
        self._app.client_kwargs["token_endpoint_auth_method"] = method

    # -- the pending sign-in cookie -----------------------------------------------------
    def _set_pending(self, request: Request, response: Response, data: dict[str, Any]) -> None:
        secure = request.url.scheme == "https"
        response.set_cookie(
            SECURE_PENDING_COOKIE if secure else PENDING_COOKIE,
            self._serializer.dumps(data),
            max_age=PENDING_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )

    def _load_pending(self, request: Request) -> dict[str, Any] | None:
        raw = request.cookies.get(SECURE_PENDING_COOKIE) or request.cookies.get(PENDING_COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=PENDING_MAX_AGE)
        except BadSignature:  # also SignatureExpired
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def clear_pending(response: Response) -> None:
        response.delete_cookie(PENDING_COOKIE, path="/")
        response.delete_cookie(SECURE_PENDING_COOKIE, path="/", secure=True)

    # -- the flow -----------------------------------------------------------------------
    async def start(self, request: Request, redirect_uri: str, next_url: str) -> Response:
        """The redirect to the provider, with the pending sign-in cookie set.

        Raises:
            OidcFailure: the provider cannot be used right now.
        """
        await self.metadata()
        request.scope["session"] = {}
        # 256-bit values: ProConnect wants state and nonce of at least 32 characters.
        response = await self._app.authorize_redirect(
            request,
            redirect_uri,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
        )
        pending = dict(request.session)
        pending["next"] = next_url
        self._set_pending(request, response, pending)
        return response

    def pending_next(self, request: Request) -> str | None:
        pending = self._load_pending(request)
        next_url = pending.get("next") if pending else None
        return next_url if isinstance(next_url, str) else None

    async def finish(self, request: Request) -> OidcClaims:
        """The verified identity the provider sent back to the callback.

        Raises:
            OidcFailure: no or wrong state, an error from the provider, a token or ID
                token that fails a check, an unreachable provider.
        """
        pending = self._load_pending(request)
        if pending is None:
            raise OidcFailure(MISSING_STATE, 400, "no pending sign-in (cookie missing or expired)")
        error = request.query_params.get("error")
        if error:
            reason = ACCESS_DENIED if error == "access_denied" else PROVIDER_ERROR
            description = request.query_params.get("error_description", "")
            raise OidcFailure(reason, 400, f"{error} {description}".strip()[:200])
        metadata = await self.metadata()
        request.scope["session"] = pending
        claims_options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }
        try:
            token = await self._app.authorize_access_token(
                request, claims_options=claims_options, leeway=CLOCK_LEEWAY
            )
        except OAuthError as exc:
            if exc.error == "mismatching_state":
                raise OidcFailure(INVALID_STATE, 400, "state does not match") from exc
            raise OidcFailure(TOKEN_REFUSED, 400, f"{exc.error}: {exc.description}") from exc
        except JoseError as exc:
            raise OidcFailure(INVALID_ID_TOKEN, 400, f"{type(exc).__name__}: {exc}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcFailure(PROVIDER_UNAVAILABLE, 502, str(exc)) from exc
        id_claims = token.get("userinfo")
        if not id_claims:
            raise OidcFailure(INVALID_ID_TOKEN, 400, "the token response has no id_token")
        subject = str(id_claims["sub"])
        source: dict[str, Any] = dict(id_claims)
        if not source.get("email") and metadata.get("userinfo_endpoint"):
            source = await self._userinfo(metadata, token["access_token"], subject)
        email = source.get("email")
        return OidcClaims(
            issuer=self.issuer,
            subject=subject,
            email=email.strip() if isinstance(email, str) and email.strip() else None,
            email_verified=_is_true(source.get("email_verified")),
        )

    async def _userinfo(
        self, metadata: dict[str, Any], access_token: str, subject: str
    ) -> dict[str, Any]:
        """The UserInfo response (JSON, or a JWT signed with the provider's keys)."""
        # Asked directly rather than through authlib's client, which takes a token that
        # lives 60 s (ProConnect) for expired under its 60 s leeway.
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                response = await client.get(
                    metadata["userinfo_endpoint"],
                    headers={"Authorization": f"Bearer {access_token}"},
                )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise OidcFailure(PROVIDER_UNAVAILABLE, 502, f"userinfo: {exc}") from exc
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type == "application/jwt":
                data = await self._decode_signed_userinfo(metadata, response.text.strip())
            else:
                data = response.json()
        except (JoseError, ValueError) as exc:
            raise OidcFailure(INVALID_USERINFO, 400, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict) or str(data.get("sub")) != subject:
            raise OidcFailure(INVALID_USERINFO, 400, "userinfo is not about the ID token's sub")
        return data

    async def _decode_signed_userinfo(self, metadata: dict[str, Any], text: str) -> Any:
        algorithms = [
            alg
            for alg in metadata.get("userinfo_signing_alg_values_supported")
            or metadata["id_token_signing_alg_values_supported"]
            if alg in ASYMMETRIC_ALGORITHMS
        ]
        keys = KeySet.import_key_set(await self._app.fetch_jwk_set())
        decoded = jwt.decode(text, keys, algorithms=algorithms)
        # OpenID Connect Core 5.3.2: iss and aud, when present, must be ours.
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY, iss={"value": self.issuer}, aud={"value": self.client_id}
        )
        registry.validate(decoded.claims)
        return decoded.claims


def create_oidc_client(settings: Settings) -> OidcClient | None:
    """The provider client when OpenID Connect is configured, else ``None``."""
    if not settings.oidc_enabled:
        return None
    return OidcClient(settings, signing_key(settings))
