"""A real, minimal OpenID provider for the tests, built on authlib's server side.

authlib's ``AuthorizationServer`` with the authorization code grant, its OpenID Connect
extension (``OpenIDCode``, nonce required) and PKCE (``CodeChallenge``, here demanding
S256 at the authorization endpoint), served by uvicorn on a free port in the test's
event loop. It publishes a discovery document and a JWKS with a fresh RSA key, issues
RS256 ID tokens, and answers UserInfo in JSON or, like ProConnect, as a signed JWT.

The "login" at the provider is automatic: ``/authorize`` approves for ``provider.user``
(``None``: the person refuses). ``provider.misbehave`` makes it lie in the ways a client
must catch (wrong issuer or audience, a signature by another key, a missing or wrong
nonce, an expired token, a UserInfo about someone else). Every authorization and token
request is recorded for the tests to inspect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.services import free_port

CLIENT_ID = "atelier-test-client"
CLIENT_SECRET = "atelier-test-client-secret-0123456789"
KID = "test-signing-key"
SCOPES = ("openid", "email", "profile")


@dataclass
class Person:
    """Who signs in at the provider."""

    sub: str
    email: str | None
    email_verified: bool | str | None = True
    name: str = "Personne de Test"


@dataclass
class Misbehaviour:
    """Ways the provider can lie; the defaults are an honest provider."""

    id_token_issuer: str | None = None  # "iss" in the ID token
    id_token_audience: str | None = None  # "aud" in the ID token
    sign_with_other_key: bool = False  # same kid, another private key
    nonce: str | None = None  # "omit" or "wrong"
    expired: bool = False  # "exp" ten minutes ago
    claims_in_id_token: bool = True  # False: only "sub" there, email from UserInfo
    userinfo_as_jwt: bool = False  # answer UserInfo as a signed JWT (ProConnect)
    userinfo_sub: str | None = None  # a UserInfo about another subject
    discovery_issuer: str | None = None  # "issuer" in the discovery document


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))
    expires_at: float = field(default_factory=lambda: time.time() + 60)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class StarletteOAuth2Request(OAuth2Request):
    """authlib's request from a Starlette request whose query or form was read."""

    def __init__(self, request: Request, data: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self.payload = BasicOAuth2Payload(data)
        self._values = data

    @property
    def args(self) -> dict[str, str]:
        return self._values

    @property
    def form(self) -> dict[str, str]:
        return self._values


class S256Required(CodeChallenge):
    """PKCE is mandatory here, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with S256 is required.", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    @property
    def provider(self) -> TestProvider:
        provider: TestProvider = self.server.provider
        return provider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.provider.codes[code] = Code(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.provider.codes.get(code)
        if found and found.client_id == client.client_id and found.expires_at > time.time():
            return found
        return None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> Person:
        return authorization_code.user


class OpenIDCodeExtension(OpenIDCode):
    def __init__(self, provider: TestProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(code.nonce == nonce for code in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        p = self.provider
        return p.other_key if p.misbehave.sign_with_other_key else p.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": KID, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        m = self.provider.misbehave
        claims: dict[str, Any] = {
            "iss": m.id_token_issuer or self.provider.issuer,
            "aud": [m.id_token_audience or client.get_client_id()],
        }
        if m.expired:
            now = int(time.time())
            claims.update(iat=now - 1200, exp=now - 600, auth_time=now - 1200)
        return claims

    def get_authorization_code_claims(self, authorization_code: Code) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        if self.provider.misbehave.nonce == "omit":
            claims.pop("nonce", None)
        elif self.provider.misbehave.nonce == "wrong":
            claims["nonce"] = "not-the-nonce-the-client-sent"
        return claims

    def generate_user_info(self, user: Person, scope: str) -> dict[str, Any]:
        if not self.provider.misbehave.claims_in_id_token:
            return {"sub": user.sub}
        return self.provider.claims(user, scope)


class Server(AuthorizationServer):
    def __init__(self, provider: TestProvider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: generate_token(42),
                # ProConnect's access tokens live 60 s.
                expires_generator=lambda client, grant_type: 60,
            ),
        )
        self.register_grant(CodeGrant, [OpenIDCodeExtension(provider), S256Required(required=True)])

    def query_client(self, client_id: str) -> Client | None:
        client = self.provider.client
        return client if client_id == client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.provider.tokens[token["access_token"]] = (request.user, token.get("scope", ""))

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        headers = dict(headers or [])
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=headers)
        return Response(body or b"", status_code=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class TestProvider:
    """The provider, served on ``base_url``; its issuer is ``<base_url>/op``."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.base_url}/op"
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
        self.other_key = RSAKey.generate_key(
            2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"}
        )
        self.client = Client(CLIENT_ID, CLIENT_SECRET)
        self.user: Person | None = None
        self.misbehave = Misbehaviour()
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, tuple[Person, str]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.discovery_requests = 0
        self.server = Server(self)
        self.app = Starlette(
            routes=[
                Route("/op/.well-known/openid-configuration", self.discovery),
                Route("/op/jwks", self.jwks),
                Route("/op/authorize", self.authorize),
                Route("/op/token", self.token, methods=["POST"]),
                Route("/op/userinfo", self.userinfo),
            ]
        )
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    def claims(self, person: Person, scope: str) -> dict[str, Any]:
        scopes = scope.split()
        claims: dict[str, Any] = {"sub": person.sub}
        if "email" in scopes and person.email is not None:
            claims["email"] = person.email
            if person.email_verified is not None:
                claims["email_verified"] = person.email_verified
        if "profile" in scopes:
            claims["name"] = person.name
        return claims

    # -- endpoints ----------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        self.discovery_requests += 1
        op = self.issuer
        return JSONResponse(
            {
                "issuer": self.misbehave.discovery_issuer or self.issuer,
                "authorization_endpoint": f"{op}/authorize",
                "token_endpoint": f"{op}/token",
                "userinfo_endpoint": f"{op}/userinfo",
                "jwks_uri": f"{op}/jwks",
                "scopes_supported": list(SCOPES),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "userinfo_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": list(self.client.auth_methods),
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "iss", "aud", "email", "email_verified", "name"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        oauth_request = StarletteOAuth2Request(request, params)
        try:
            grant = self.server.get_consent_grant(oauth_request, end_user=self.user)
        except OAuth2Error as error:
            response: Response = self.server.handle_error_response(oauth_request, error)
            return response
        response = self.server.create_authorization_response(
            oauth_request, grant_user=self.user, grant=grant
        )
        return response

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        response: Response = self.server.create_token_response(
            StarletteOAuth2Request(request, form)
        )
        return response

    async def userinfo(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        found = self.tokens.get(authorization.removeprefix("Bearer ").strip())
        if not authorization.startswith("Bearer ") or found is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        person, scope = found
        claims = self.claims(person, scope)
        if self.misbehave.userinfo_sub:
            claims["sub"] = self.misbehave.userinfo_sub
        if self.misbehave.userinfo_as_jwt:
            claims.update(iss=self.issuer, aud=self.client.client_id)
            header = {"alg": "RS256", "kid": KID, "typ": "JWT"}
            token = jwt.encode(header, claims, self.key, algorithms=["RS256"])
            return Response(token, media_type="application/jwt")
        return JSONResponse(claims)

    # -- serving ------------------------------------------------------------------------
    async def start(self) -> TestProvider:
        self._server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)


@contextlib.asynccontextmanager
async def running_provider() -> AsyncIterator[TestProvider]:
    provider = await TestProvider().start()
    try:
        yield provider
    finally:
        await provider.stop()
