"""A request that cannot reach the store is answered 503 with Retry-After, not 500 (the chaos
test in tests/cluster stops a real PostgreSQL under three nodes; these are the rules)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError

from callwright.api.errors import store_unreachable


def test_connection_failures_are_the_store_being_unreachable():
    assert store_unreachable(OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused")))
    assert store_unreachable(ConnectionRefusedError(111, "refused"))
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert store_unreachable(wrapped)


def test_other_failures_stay_internal_errors():
    assert not store_unreachable(ValueError("a bug"))
    assert not store_unreachable(IntegrityError("INSERT", {}, Exception("duplicate key")))


async def test_the_answer_is_the_envelope_with_retry_after(settings):
    import httpx

    from callwright.api.app import create_app
    from callwright.platform import Platform
    from tests.ports import free_port

    # Nothing listens there: every store query fails to connect.
    down = settings.model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/gone"})
    platform = Platform.from_settings(down)
    transport = httpx.ASGITransport(app=create_app(platform=platform), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://callwright.test") as client:
            answer = await client.get("/api/v2/calls", headers={"Authorization": "Bearer rg_live_" + "x" * 32})
    finally:
        await platform.close()
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["reason"]) == ("SERVICE_UNAVAILABLE", "store_unavailable")
    assert answer.headers["retry-after"] == "2"
