"""The HTTP clients the bot talks through, each bound to the one origin its token may go to:
the Hub (HF_ENDPOINT), the model, the dataset viewer (DATASET_VIEWER_URL)."""

from __future__ import annotations

import functools
import ssl

import httpx

from bot.config import Secret, Settings
from bot.hub.client import HubClient
from bot.upstream import CallLimits, Observer, RetryPolicy, ignore_call

USER_AGENT = "hub-discussion-bot/0.1"


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client: each would otherwise load the CA bundle again, at
    about 30 ms and 1.5 MiB apiece."""
    return httpx.create_ssl_context()


def _headers(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.get_secret_value()}", "User-Agent": USER_AGENT}


def hub_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client bound to HF_ENDPOINT: requests carry relative paths, so the token stays there.
    It sends no Accept header: the Hub answers JSON anyway, and its description of `resolve`
    reads an Accept header as a request for Xet file information."""
    client = httpx.AsyncClient(
        base_url=settings.hf_endpoint,
        headers=_headers(settings.hub_token),
        timeout=settings.hub_timeout,
        transport=transport,
        verify=tls(),
    )
    del client.headers["accept"]
    return client


def model_http_client(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float | None = None,
) -> httpx.AsyncClient:
    """A client that carries INFERENCE_TOKEN (HF_TOKEN unless set), never the Hub's base URL."""
    return httpx.AsyncClient(
        headers=_headers(settings.model_token),
        timeout=min(timeout or settings.inference_timeout, settings.inference_timeout),
        transport=transport,
        verify=tls(),
    )


def viewer_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """A client bound to DATASET_VIEWER_URL, with the token (gated datasets need it); httpx
    drops the token on a redirect to another origin."""
    return httpx.AsyncClient(
        base_url=settings.dataset_viewer_url,
        headers=_headers(settings.hub_token),
        timeout=settings.hub_timeout,
        transport=transport,
        verify=tls(),
    )


def hub_limits(settings: Settings) -> CallLimits:
    return CallLimits(settings.hub_timeout, settings.max_upstream_bytes)


def model_limits(settings: Settings) -> CallLimits:
    return CallLimits(settings.inference_timeout, settings.max_upstream_bytes)


def hub_client(
    settings: Settings, http: httpx.AsyncClient, retry: RetryPolicy, observe: Observer = ignore_call
) -> HubClient:
    return HubClient(http, retry, observe, hub_limits(settings))
