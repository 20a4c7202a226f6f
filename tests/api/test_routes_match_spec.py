"""The app refuses to start when its REST routes are not spec/openapi.yaml's operations."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter

from service.api import messages, routers
from service.api.routes import RoutesDisagreeWithSpec
from service.app import create_app
from tests.support.deployment import make_settings
from tests.support.notifier import RecordingNotifier


def test_the_app_serves_exactly_the_specs_operations(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), notifier=RecordingNotifier())
    assert app.realtime is None  # REST only; the check ran and passed


def test_an_app_with_an_extra_route_refuses_to_start(tmp_path: Path) -> None:
    extra = APIRouter()

    @extra.get("/api/secret", operation_id="secret")
    async def secret() -> dict[str, str]:
        return {}

    with pytest.raises(RoutesDisagreeWithSpec, match=r"extra: +secret GET /api/secret"):
        create_app(make_settings(tmp_path), rest_routers=[*routers(), extra])


def test_an_app_missing_a_route_refuses_to_start(tmp_path: Path) -> None:
    without_messages = [router for router in routers() if router is not messages.router]
    with pytest.raises(RoutesDisagreeWithSpec) as refused:
        create_app(make_settings(tmp_path), rest_routers=without_messages)
    text = str(refused.value)
    for operation in ("list_messages", "create_message", "update_message", "delete_message"):
        assert f"missing: {operation} " in text
    assert "extra:" not in text


def test_an_operation_served_on_another_method_too_refuses_to_start(tmp_path: Path) -> None:
    moved = APIRouter()

    @moved.put("/api/auth/me", operation_id="get_me")
    async def get_me() -> dict[str, str]:
        return {}

    with pytest.raises(RoutesDisagreeWithSpec, match=r"extra: +get_me PUT /api/auth/me"):
        create_app(make_settings(tmp_path), rest_routers=[*routers(), moved])
