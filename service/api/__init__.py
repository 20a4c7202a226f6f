"""The REST API: one module per OpenAPI tag, their shared dependencies and error mapping."""

from __future__ import annotations

from fastapi import APIRouter

from service.api import auth, channels, health, invites, members, messages, servers


def routers() -> list[APIRouter]:
    """Every tag's router, in the order of the spec's tags."""
    return [
        health.router,
        auth.router,
        servers.router,
        members.router,
        invites.router,
        channels.router,
        messages.router,
    ]
