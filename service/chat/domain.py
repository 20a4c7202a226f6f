"""`Chat`: every operation of the product once, for the REST routes and the socket handlers."""

from __future__ import annotations

from service.chat.channels import Channels
from service.chat.invites import Invites
from service.chat.members import Members
from service.chat.messages import Messages
from service.chat.parts import ChatParts
from service.chat.servers import Servers


class Chat:
    """The domain layer: access rules, validation, storage and the events each change causes.

    Adapters (service.api's routes, service.realtime's handlers) parse, call one method,
    and map its result or `service.errors.DomainError` to their transport.
    """

    def __init__(self, parts: ChatParts) -> None:
        self.parts = parts
        self.messages = Messages(parts)
        self.servers = Servers(parts)
        self.members = Members(parts)
        self.channels = Channels(parts)
        self.invites = Invites(parts)
