"""The mock server's ASGI app: Socket.IO at `/socket.io`, the REST examples everywhere else."""

from __future__ import annotations

import logging
from pathlib import Path

import socketio
import uvicorn
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from service.api.spec import SPEC_DIR
from service.mock.contract import load_mock_contract
from service.mock.rest import MockRest
from service.mock.sockets import create_mock_sockets, described
from service.settings import Settings

log = logging.getLogger("zizany.mock")


def create_mock_app(settings: Settings, *, spec_dir: Path = SPEC_DIR) -> ASGIApp:
    """The mock of the contract in `spec_dir`; allowed origins as `settings` says."""
    contract = load_mock_contract(spec_dir)
    sio, _ = create_mock_sockets(contract, allowed_origins=list(settings.allowed_origins))
    rest = CORSMiddleware(
        MockRest(contract.rest),
        allow_origins=list(settings.allowed_origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Content-Type"],
    )
    log.info(
        "mock of contract %s: %d REST operations, %d client events",
        contract.version,
        len(contract.rest),
        len(contract.receive),
    )
    for op in contract.receive.values():
        log.debug("mock: %s", described(op))
    app: ASGIApp = socketio.ASGIApp(sio, other_asgi_app=rest, socketio_path="socket.io")
    return app


def serve_mock(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """Serve the mock until stopped (one process; no database, no Redis)."""
    host = host or settings.host
    port = port if port is not None else settings.port
    app = create_mock_app(settings)
    print(f"Zizany mock (examples of the contract, no database) on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), lifespan="on")
    return 0
