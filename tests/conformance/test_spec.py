"""The runner reads everything from the document: a made-up contract reads as well as ours."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.spec import Contract, Room, load_contract

MADE_UP = {
    "asyncapi": "3.0.0",
    "info": {"title": "Boards", "version": "2.1.0"},
    "channels": {
        "conn": {"address": None, "messages": {}},
        "boardRoom": {"address": "board:{boardId}", "parameters": {"boardId": {}}, "messages": {}},
    },
    "operations": {
        "boardJoin": {
            "action": "receive",
            "channel": {"$ref": "#/channels/conn"},
            "messages": [{"$ref": "#/components/messages/boardJoin"}],
            "reply": {"messages": [{"$ref": "#/components/messages/boardJoinAck"}]},
            "x-errors": ["E_BAD", "E_GONE"],
        },
        "noteAdded": {
            "action": "send",
            "channel": {"$ref": "#/channels/boardRoom"},
            "messages": [{"$ref": "#/components/messages/noteAdded"}],
            "x-socketio-exclude-sender": True,
        },
        "boardDeleted": {
            "action": "send",
            "channel": {"$ref": "#/channels/boardRoom"},
            "messages": [{"$ref": "#/components/messages/boardDeleted"}],
        },
        "errorBad": {
            "action": "send",
            "channel": {"$ref": "#/channels/conn"},
            "messages": [{"$ref": "#/components/messages/errorBad"}],
        },
    },
    "components": {
        "messages": {
            "boardJoin": {
                "name": "board:join",
                "payload": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["boardId"],
                    "properties": {"boardId": {"type": "integer", "minimum": 1}},
                },
            },
            "boardJoinAck": {"payload": {"type": "object"}},
            "noteAdded": {
                "name": "note:added",
                "payload": {
                    "type": "object",
                    "required": ["id", "board_id"],
                    "properties": {"id": {"type": "integer"}, "board_id": {"type": "integer"}},
                },
            },
            "boardDeleted": {
                "name": "board:deleted",
                "payload": {"type": "object", "properties": {"id": {"type": "integer"}}},
            },
            "errorBad": {
                "name": "oops:bad",
                "payload": {
                    "type": "object",
                    "properties": {"code": {"type": "string", "enum": ["E_BAD", "E_GONE"]}},
                },
            },
        }
    },
}


@pytest.fixture
def made_up(tmp_path: Path) -> Contract:
    path = tmp_path / "boards.yaml"
    path.write_text(yaml.safe_dump(MADE_UP), encoding="utf-8")
    return load_contract(path, validation_code="E_BAD")


def test_a_made_up_contract_gives_its_operations_rooms_and_error_events(made_up: Contract) -> None:
    assert set(made_up.receive) == {"board:join"}
    assert set(made_up.send) == {"note:added", "board:deleted", "oops:bad"}
    assert made_up.rooms == {"boardRoom": Room("boardRoom", "board:{boardId}", "boardId")}
    assert made_up.error_events == {"oops:bad": frozenset({"E_BAD", "E_GONE"})}
    assert made_up.receive["board:join"].errors == {"E_BAD", "E_GONE"}
    assert made_up.send["note:added"].exclude_sender
    assert made_up.send["oops:bad"].to_socket
    assert made_up.version == "2.1.0"


def test_rooms_come_from_the_parameter_its_snake_case_or_the_entitys_own_id(
    made_up: Contract,
) -> None:
    assert made_up.room_for("note:added", {"id": 9, "board_id": 3}) == "board:3"
    assert made_up.room_for("board:deleted", {"id": 4}) == "board:4"
    assert made_up.target_room("board:join", {"boardId": 5}) == ("enter", "board:5")
    assert made_up.rooms["boardRoom"].parse("board:12") == 12
    assert made_up.rooms["boardRoom"].parse("channel:12") is None


def test_a_contract_without_the_validation_code_everywhere_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "boards.yaml"
    path.write_text(yaml.safe_dump(MADE_UP), encoding="utf-8")
    with pytest.raises(ValueError, match="E_VALIDATION"):
        load_contract(path)


def test_our_contract_reads_as_the_socket_spec_describes_it(contract: Contract) -> None:
    assert all(op.reply is not None for op in contract.receive.values())
    assert contract.send["typing:update"].exclude_sender
    assert not contract.send["message:new"].exclude_sender
    room = contract.send["message:new"].room
    assert room is not None and room.address == "channel:{channelId}"
    assert contract.code_events["E_VALIDATION"] == "error:validation"
    assert contract.room_for("server:updated", {"id": 3, "owner_id": 9}) == "server:3"
    assert contract.room_for("channel:created", {"id": 8, "server_id": 3}) == "server:3"
