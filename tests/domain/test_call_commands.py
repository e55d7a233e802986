"""The commands a media session takes from another process: each is a method of the session."""

from __future__ import annotations

import inspect
import json

from callwright.domain.call_commands import ControlCommand
from callwright.domain.end_reasons import EndReason
from callwright.services.call_control import COMMAND_TIMEOUT_SECS


def test_the_commands_and_their_wire_names():
    assert [c.value for c in ControlCommand] == [
        "end", "speak_then_end", "leave_voicemail", "transfer", "transfer_bridging", "transfer_not_reached",
    ]


def test_every_command_has_a_timeout():
    assert set(COMMAND_TIMEOUT_SECS) == set(ControlCommand)
    assert all(timeout > 0 for timeout in COMMAND_TIMEOUT_SECS.values())


def test_every_command_is_a_coroutine_method_of_the_media_session():
    from callwright.voice.session import CallMediaSession

    for command in ControlCommand:
        method = getattr(CallMediaSession, command.value)
        assert inspect.iscoroutinefunction(method), command


def test_commands_and_reasons_travel_as_their_string_values():
    message = json.loads(json.dumps({"command": ControlCommand.END, "args": {"reason": EndReason.VOICEMAIL}}))
    assert message == {"command": "end", "args": {"reason": "voicemail"}}
    assert ControlCommand(message["command"]) is ControlCommand.END
    assert EndReason(message["args"]["reason"]) is EndReason.VOICEMAIL
