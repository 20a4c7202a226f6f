"""The domain layer: each product operation once, with its rules (no FastAPI, no Socket.IO)."""
