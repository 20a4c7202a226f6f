"""The app against the committed contract: the same operations, the files served as
committed, a bundled OpenAPI document that validates, and offline docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from generated.rest.operations import OPERATIONS
from service.api import routers
from service.api.spec import SPEC_DIR
from service.errors import DomainError
from tests.support.clients import Api, expect

pytestmark = pytest.mark.anyio

METHODS = {"get", "post", "put", "patch", "delete"}


def app_operations() -> set[tuple[str, str, str]]:
    """(method, path, operation_id) of every API route the app serves."""
    found = set()
    for router in routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods or ():
                found.add((method, route.path, str(route.operation_id)))
    return found


def spec_operations() -> set[tuple[str, str, str]]:
    """(method, path, operationId) of every operation in spec/openapi.yaml."""
    spec = yaml.safe_load((SPEC_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_apps_routes_are_exactly_the_specs_operations() -> None:
    assert app_operations() == spec_operations()
    assert spec_operations() == {(m, p, op) for op, (m, p, _tag) in OPERATIONS.items()}


def test_each_operation_lives_in_the_module_of_its_tag() -> None:
    for router in routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            _method, _path, tag = OPERATIONS[str(route.operation_id)]
            assert route.tags == [tag]
            assert route.endpoint.__module__ == f"service.api.{tag}"
            assert route.endpoint.__name__ == route.operation_id


@pytest.mark.parametrize("name", ["openapi.yaml", "asyncapi.yaml", "common.yaml"])
async def test_the_spec_files_are_served_byte_identical(api: Api, name: str) -> None:
    response = await api.client().get(f"/{name}")
    assert response.status_code == 200
    assert response.content == (SPEC_DIR / name).read_bytes()
    assert response.headers["content-type"].startswith("application/yaml")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            ref for v in node.values() for ref in _refs(v)
        ]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


async def test_openapi_json_is_the_committed_spec_in_one_valid_document(api: Api) -> None:
    bundled = expect(await api.client().get("/openapi.json"), 200)
    committed = yaml.safe_load((SPEC_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    assert bundled["info"] == committed["info"]
    assert set(bundled["paths"]) == set(committed["paths"])
    refs = _refs(bundled)
    assert refs and all(ref.startswith("#/") for ref in refs)
    for ref in refs:
        node: Any = bundled
        for part in ref[2:].split("/"):
            node = node[part]
    validate(bundled)


async def test_the_docs_page_loads_nothing_from_other_hosts(api: Api) -> None:
    client = api.client()
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    links = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert links
    for link in links:
        assert not re.match(r"^(https?:)?//", link), link
        assert (await client.get(link)).status_code == 200, link


def test_the_spec_directory_is_the_repositorys() -> None:
    assert Path(__file__).resolve().parents[2] / "spec" == SPEC_DIR


def _codes_of(cls: type[DomainError]) -> set[str]:
    return {cls.code} | {code for sub in cls.__subclasses__() for code in _codes_of(sub)}


def test_every_error_code_the_service_raises_is_in_the_specs_enum_and_back() -> None:
    spec = yaml.safe_load((SPEC_DIR / "openapi.yaml").read_text(encoding="utf-8"))
    enum = set(spec["components"]["schemas"]["ErrorCode"]["enum"])
    raised = _codes_of(DomainError)
    # 405 comes from the router, not from a domain error.
    assert raised | {"E_METHOD_NOT_ALLOWED"} == enum
    listed = {
        code
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in METHODS
        for code in operation["x-error-codes"]
    }
    assert listed <= enum
