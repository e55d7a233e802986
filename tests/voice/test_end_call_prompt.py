"""How ``end_call_instructions`` reach the model: in its prompt and in the tool's description."""

from __future__ import annotations

from callwright.voice.end_call import END_CALL, end_call_prompt, end_call_tool


def test_instructions_are_spliced_under_their_heading() -> None:
    assert end_call_prompt("You sell insurance.", "When they say no twice.") == (
        "You sell insurance.\n\nWhen to end the call:\nWhen they say no twice."
    )


def test_no_instructions_leave_the_prompt_alone() -> None:
    assert end_call_prompt("You sell insurance.", None) == "You sell insurance."
    assert end_call_prompt("You sell insurance.", "   ") == "You sell insurance."


def test_instructions_without_a_prompt_stand_alone() -> None:
    assert end_call_prompt("", "After the booking.") == "When to end the call:\nAfter the booking."


def test_the_tool_takes_no_arguments_and_carries_the_instructions() -> None:
    tool = end_call_tool("After the booking.")
    assert tool.name == END_CALL
    assert tool.properties == {} and tool.required == []
    assert tool.description.endswith("When to end the call: After the booking.")
