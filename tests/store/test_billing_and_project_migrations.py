"""Migrations 0005c–0005e on a store that already has partners, agents and calls: existing
partners get the documented rate limits, a zero balance and a Default project holding their
agents; existing calls keep their agent's project."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from callwright.store.db import create_engine
from callwright.store.migrate import upgrade
from tests.conftest import throwaway_postgres_database

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
def _stamps() -> list[sa.ColumnClause]:
    return [sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True))]



PARTNERS = sa.table(
    "partners", sa.column("id"), sa.column("name"), sa.column("display_name"), sa.column("status"),
    sa.column("allowed_providers", sa.JSON), sa.column("concurrency_limit"), sa.column("agent_limit"), *_stamps(),
)
AGENTS = sa.table(
    "agents", sa.column("id"), sa.column("partner_id"), sa.column("agent_name"), sa.column("status"),
    sa.column("settings", sa.JSON), *_stamps(),
)
CALLS = sa.table(
    "calls", sa.column("id"), sa.column("session_id"), sa.column("partner_id"), sa.column("agent_id"),
    sa.column("agent", sa.JSON), sa.column("provider"), sa.column("direction"), sa.column("from_number"),
    sa.column("to_number"), sa.column("variables", sa.JSON), sa.column("status"),
    sa.column("machine_detection_requested", sa.Boolean), sa.column("dial_state"), sa.column("dial_attempts"),
    sa.column("dial_not_before", sa.DateTime(timezone=True)), sa.column("transcript", sa.JSON), *_stamps(),
)


def _partner(n: int) -> dict:
    return {
        "id": f"p{n}", "name": f"partner-{n}", "display_name": f"P{n}", "status": "active",
        "allowed_providers": [], "concurrency_limit": 5, "agent_limit": 5, "created_at": NOW, "updated_at": NOW,
    }


def _agent(n: int, partner: str) -> dict:
    return {
        "id": f"a{n}", "partner_id": partner, "agent_name": f"agent-{n}", "status": "active", "settings": {},
        "created_at": NOW, "updated_at": NOW,
    }


def _call(n: int, partner: str, agent: str) -> dict:
    return {
        "id": f"c{n}", "session_id": f"s{n}", "partner_id": partner, "agent_id": agent, "agent": {},
        "provider": "vobiz", "direction": "outbound", "from_number": "+918011223344",
        "to_number": "+919876543210", "variables": {}, "status": "completed",
        "machine_detection_requested": False, "dial_state": "dialed", "dial_attempts": 1,
        "dial_not_before": NOW, "transcript": [], "created_at": NOW, "updated_at": NOW,
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def old_store(request: pytest.FixtureRequest, tmp_path: Path):
    """A store at revision 0004 with two partners, three agents and three calls."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'old.db'}"
        else:
            url = await stack.enter_async_context(throwaway_postgres_database())
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(sa.insert(PARTNERS), [_partner(1), _partner(2)])
            await conn.execute(sa.insert(AGENTS), [_agent(1, "p1"), _agent(2, "p1"), _agent(3, "p2")])
            # c3's agent was deleted before the upgrade: the call keeps no project.
            await conn.execute(sa.insert(CALLS), [_call(1, "p1", "a1"), _call(2, "p2", "a3"), _call(3, "p1", "gone")])
        yield engine


async def test_existing_rows_get_limits_balances_and_their_default_project(old_store):
    await upgrade(old_store)
    async with old_store.connect() as conn:
        partners = (await conn.execute(sa.text(
            "SELECT id, requests_per_minute, calls_per_minute, credit_balance_paise, rate_paise_per_minute "
            "FROM partners ORDER BY id"
        ))).all()
        assert [tuple(r) for r in partners] == [("p1", 60, 10, 0, None), ("p2", 60, 10, 0, None)]
        projects = (await conn.execute(sa.text(
            "SELECT partner_id, id, name, is_default FROM projects ORDER BY partner_id"
        ))).all()
        assert [(r.partner_id, r.name, bool(r.is_default)) for r in projects] == [
            ("p1", "Default", True), ("p2", "Default", True)
        ]
        default = {r.partner_id: r.id for r in projects}
        agents = dict((await conn.execute(sa.text("SELECT id, project_id FROM agents"))).all())
        assert agents == {"a1": default["p1"], "a2": default["p1"], "a3": default["p2"]}
        calls = dict((await conn.execute(sa.text("SELECT id, project_id FROM calls"))).all())
        assert calls == {"c1": default["p1"], "c2": default["p2"], "c3": None}

        # Every agent is in a project from now on, and a partner has only one Default project.
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(sa.text("UPDATE agents SET project_id = NULL WHERE id = 'a1'"))
        await conn.rollback()
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(
                sa.text(
                    "INSERT INTO projects (id, partner_id, name, is_default, created_at, updated_at) "
                    "VALUES ('x', 'p1', 'Second', :yes, :now, :now)"
                ),
                {"yes": True, "now": NOW},
            )
