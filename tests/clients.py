"""Clients that call the API with a user's token."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user: Any) -> APIClient:
    """An API client that sends ``user``'s token (made on first use)."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def token_request(user: Any, method: str, path: str, body: Any = None) -> Any:
    """One JSON request as ``user`` (token auth) through a fresh Django client."""
    token = Token.objects.get_or_create(user=user)[0].key
    return Client().generic(
        method,
        path,
        data=json.dumps(body) if body is not None else b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
