"""The view every variant serves, and the authenticators it is compared with.

One DRF view answers ``{"ok": true}``; each URL of bench.urls gives it another authentication
class: none, a no-op one (the floor of any authenticator), this library's, simplejwt's stateless
one, or a thin wrapper around ``jwt.decode`` with the issuer's key loaded once.
"""

from __future__ import annotations

import functools
from typing import Any

import jwt
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken, Token

from bench.common import load_config
from django_bearer_guard.authentication import BearerTokenAuthentication

View = Any  # what as_view() returns: a callable taking an HttpRequest


class User:
    """An authenticated user, as DRF's IsAuthenticated sees it, holding the token's claims if any."""

    is_authenticated = True

    def __init__(self, claims: dict[str, Any] | None = None) -> None:
        self.claims = claims or {}


FIXED_USER = User()


class NoOpAuthentication(BaseAuthentication):
    """Authenticates every request as the same user, reading nothing."""

    def authenticate(self, request: Request) -> tuple[User, None]:
        return FIXED_USER, None


@functools.cache
def public_key(alg: str) -> Any:
    """The issuer's public key for ``alg``, parsed once per process."""
    return jwt.PyJWK(load_config()["keys"][alg]["jwk"]).key


class PyJWTAuthentication(BaseAuthentication):
    """``Authorization: Bearer`` checked by ``jwt.decode`` with a preloaded key, audience and issuer."""

    algorithm = "RS256"

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        config = load_config()
        try:
            claims = jwt.decode(token, public_key(self.algorithm), algorithms=[self.algorithm],
                                audience=config["audience"], issuer=config["issuer"], leeway=30)
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(str(exc)) from None
        return User(claims), claims

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def pyjwt_authentication(alg: str) -> type[PyJWTAuthentication]:
    class Authentication(PyJWTAuthentication):
        algorithm = alg

    return Authentication


def simplejwt_authentication(alg: str) -> type[JWTStatelessUserAuthentication]:
    """simplejwt's stateless authentication: as configured by SIMPLE_JWT for RS256, with its own backend otherwise."""
    if alg == "RS256":
        return JWTStatelessUserAuthentication
    config = load_config()
    backend = TokenBackend(alg, None, config["keys"][alg]["pem"], config["audience"], config["issuer"], None, 30)

    class Access(AccessToken):
        _token_backend = backend

    class Authentication(JWTStatelessUserAuthentication):
        def get_validated_token(self, raw_token: bytes) -> Token:
            return Access(raw_token)  # type: ignore[arg-type]  # simplejwt takes the raw header bytes

    return Authentication


class Answer(APIView):
    """``{"ok": true}`` to whoever the URL's authentication lets in."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def answer(kind: str, alg: str) -> View:
    """The view of one variant kind (see bench.common.Variant)."""
    if kind == "noauth":
        return Answer.as_view(authentication_classes=[], permission_classes=[AllowAny])
    authentication: type[BaseAuthentication]
    if kind == "noop":
        authentication = NoOpAuthentication
    elif kind == "guard":
        authentication = BearerTokenAuthentication
    elif kind == "simplejwt":
        authentication = simplejwt_authentication(alg)
    else:
        authentication = pyjwt_authentication(alg)
    return Answer.as_view(authentication_classes=[authentication], permission_classes=[IsAuthenticated])
