"""OpenAPI at /openapi.json and /docs: every endpoint has a summary and an example."""

from __future__ import annotations


async def test_every_operation_has_a_summary_and_an_example(client):
    schema = (await client.get("/openapi.json")).json()
    operations = [
        (path, method, op) for path, methods in schema["paths"].items() for method, op in methods.items()
    ]
    assert any(path == "/api/v2/calls/start" for path, _, _ in operations)
    undocumented = []
    for path, method, op in operations:
        if path == "/healthz":
            continue
        success = next((r for code, r in op["responses"].items() if code.startswith("2")), {})
        examples = [
            media.get("example") or media.get("examples")
            for media in success.get("content", {}).values()
        ]
        if not op.get("summary") or not any(examples):
            undocumented.append(f"{method.upper()} {path}")
    assert undocumented == []


async def test_docs_page_is_served(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.text


async def test_invalid_requests_are_documented_as_400_with_the_envelope(client):
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    undocumented = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            assert "422" not in op["responses"], f"{method.upper()} {path}"
            takes_input = op.get("parameters") or op.get("requestBody")
            bad_request = op["responses"].get("400", {})
            envelope = bad_request.get("content", {}).get("application/json", {}).get("schema", {})
            if takes_input and envelope != {"$ref": "#/components/schemas/ErrorEnvelope"}:
                undocumented.append(f"{method.upper()} {path}")
    assert undocumented == []
