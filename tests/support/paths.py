"""Where things are: the repository root, the contract, the npm packages."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
NODE_MODULES = ROOT / "node_modules"
