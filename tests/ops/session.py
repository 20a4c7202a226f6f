"""A short, real session against a live server: sign up, create a server, use a socket."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.clients import RecordingClient


@dataclass(frozen=True)
class Account:
    """A signed-up user with their session cookie and a chat server they own."""

    user_id: int
    email: str
    password: str
    cookie: str
    server_id: int
    channel_id: int


async def sign_up(url: str, name: str) -> Account:
    """A new user (unique email) owning a new chat server."""
    email = f"{name.lower()}-{secrets.token_hex(4)}@example.com"
    password = "pw-" + secrets.token_hex(8)
    async with httpx.AsyncClient(base_url=url) as http:
        signup = await http.post(
            "/api/auth/signup", json={"username": name, "email": email, "password": password}
        )
        assert signup.status_code == 201, signup.text
        created = await http.post("/api/servers", json={"name": f"{name}'s place"})
        assert created.status_code == 201, created.text
        server_id = created.json()["server"]["id"]
        channels = await http.get(f"/api/servers/{server_id}/channels")
        assert channels.status_code == 200, channels.text
        channel_id = channels.json()["channels"][0]["id"]
        return Account(
            user_id=signup.json()["user"]["id"],
            email=email,
            password=password,
            cookie=signup.cookies["connect.sid"],
            server_id=server_id,
            channel_id=channel_id,
        )


async def connect(url: str, account: Account) -> RecordingClient:
    """A connected Socket.IO client with the account's cookie."""
    client = RecordingClient()
    await client.connect(url, headers={"Cookie": f"connect.sid={account.cookie}"})
    return client


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus exposition, by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a labelled counter appears at its first count)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
