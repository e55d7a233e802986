"""Custom function rules: tool names, header keys, the schema the model sees, the body we POST."""

from __future__ import annotations

from callwright.domain.functions import FunctionTool, SchemaField, header_problems, name_problem


def _tool(*fields: SchemaField) -> FunctionTool:
    return FunctionTool(
        id="f1", name="check_order", description="Look up an order.", url="https://example.com/o",
        headers={"Authorization": "Bearer x"}, input_schema=fields, timeout_secs=10, started_messages=(),
        error_message=None,
    )


def test_names_are_tool_names_and_not_the_platforms_own():
    assert name_problem("get_weather-2") is None
    assert name_problem("get weather") is not None and name_problem("x" * 65) is not None
    assert "platform" in (name_problem("opt_out") or "")


def test_header_keys_are_http_names_given_once_and_not_ones_we_set():
    assert header_problems(["Authorization", "X-Api-Key"]) is None
    assert "twice" in (header_problems(["X-Key", "x-key"]) or "")
    assert "platform" in (header_problems(["Host"]) or "")
    assert "HTTP header name" in (header_problems(["Bad Key"]) or "")


def test_each_documented_type_becomes_json_schema_for_the_model():
    tool = _tool(
        SchemaField("city", "string", "City name", required=True),
        SchemaField("count", "number"),
        SchemaField("urgent", "boolean"),
        SchemaField("tags", "string[]"),
        SchemaField("sizes", "number[]"),
        SchemaField("extra", "custom", "Anything"),
    )
    properties, required = tool.parameters({})
    assert properties == {
        "city": {"type": "string", "description": "City name"},
        "count": {"type": "number"},
        "urgent": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "sizes": {"type": "array", "items": {"type": "number"}},
        "extra": {"description": "Anything"},
    }
    assert required == ["city"]


def test_a_field_named_after_a_pre_call_variable_is_filled_from_it_not_by_the_model():
    tool = _tool(SchemaField("order_id", "string", required=True), SchemaField("customer_id", "string", required=True))
    variables = {"customer_id": "c-42", "name": "Asha"}
    properties, required = tool.parameters(variables)
    assert list(properties) == ["order_id"] and required == ["order_id"]
    body = tool.request_body({"order_id": "A-1", "customer_id": "made-up"}, variables)
    assert body == {"order_id": "A-1", "customer_id": "c-42"}
    assert "name" not in body  # only inputs of the schema are filled from variables


def test_a_function_without_an_error_message_says_the_default():
    assert _tool().failure_line.startswith("Sorry")
