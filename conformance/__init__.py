"""Contract conformance for Zizany: a schemathesis for Socket.IO, driven by spec/asyncapi.yaml.

Everything the runner knows about the socket contract it reads from the AsyncAPI document
at run time (`conformance.spec`): event names, payload and reply schemas, rooms, who a
broadcast skips, error events and the codes each operation may answer. Against a live
server it connects many authenticated sockets (`conformance.client`), sends generated
valid and invalid payloads (`conformance.fuzz`), checks every event any socket receives
(`conformance.observer`), drives users through REST (`conformance.rest`) and reports what
it exercised (`conformance.coverage`). `python -m conformance` runs a whole campaign
against a freshly started local server; `python -m conformance.compat <ref>` compares
both specs with an earlier version.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "spec"
ASYNCAPI_PATH = SPEC_DIR / "asyncapi.yaml"
OPENAPI_PATH = SPEC_DIR / "openapi.yaml"
