"""``callwright campaigns …`` against a throw-away SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callwright.cli.campaigns import progress_line
from callwright.domain.providers import Provider
from callwright.services import campaign_contacts, campaigns
from callwright.services.campaign_contacts import NewContact
from callwright.store.models import Agent, CampaignContact, Partner, Project, WebhookEvent
from tests.cli.test_cli import KEY_A, create_partner, failed, invoke, ok, with_store
from tests.connection_rows import store_connection


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "CALLWRIGHT_VAR_DIR": str(tmp_path / "var"),
        "CALLWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'callwright.db'}",
        "CALLWRIGHT_SECRET_KEY": KEY_A,
    }


def _campaign(env: dict[str, str]) -> str:
    ok(invoke(env, "db", "upgrade"))
    create_partner(env, "acme-corp", "--providers", "vobiz")

    async def _make(sessions: Any) -> str:
        async with sessions() as session:
            partner = await session.scalar(select(Partner).where(Partner.name == "acme-corp"))
            project = await session.scalar(select(Project.id).where(Project.partner_id == partner.id))
            agent = Agent(partner_id=partner.id, project_id=project, agent_name="Caller", settings={})
            session.add(agent)
            await session.commit()
        await store_connection(sessions, partner_id=partner.id, provider=Provider.VOBIZ, master_key=KEY_A)
        async with sessions() as session:
            fields = {"name": "Renewals", "agent_id": agent.id, "provider": "vobiz", "concurrency_limit": 2}
            campaign = await campaigns.create_campaign(session=session, partner=partner, fields=fields)
            contacts = [NewContact(f"+9198000000{i:02d}") for i in range(4)]
            await campaign_contacts.add_contacts(session=session, partner=partner, campaign_id=campaign.id, contacts=contacts)
            rows = list(await session.scalars(select(CampaignContact).where(CampaignContact.campaign_id == campaign.id)))
            rows[0].state, rows[1].state = "completed", "failed"
            await session.commit()
            return campaign.id

    return with_store(env, _make)


def test_list_show_pause_resume(env):
    campaign_id = _campaign(env)
    listed = json.loads(ok(invoke(env, "campaigns", "list", "--json")).stdout)
    assert [(c["campaign_id"], c["partner"], c["status"]) for c in listed] == [(campaign_id, "acme-corp", "draft")]
    assert (listed[0]["completed_count"], listed[0]["failed_count"], listed[0]["pending_count"]) == (1, 1, 2)
    table = ok(invoke(env, "campaigns", "list")).stdout
    assert "Renewals" in table and "50% 2/4" in table
    assert json.loads(ok(invoke(env, "campaigns", "list", "--partner", "nobody", "--json")).stdout) == []
    shown = ok(invoke(env, "campaigns", "show", campaign_id)).stdout
    assert "4 total: 2 pending, 0 calling, 1 completed, 1 failed, 0 skipped" in shown
    assert "50% 2/4" in shown
    failed(invoke(env, "campaigns", "pause", campaign_id), "cannot pause this campaign: it has not been started")

    async def _start(sessions: Any) -> None:
        async with sessions() as session:
            from callwright.domain.campaigns import CampaignAction
            from callwright.services.campaign_lifecycle import change_status

            campaign, partner = await campaigns.find_campaign(session=session, campaign_id=campaign_id)
            await change_status(session=session, partner=partner, campaign_id=campaign.id, action=CampaignAction.START)

    with_store(env, _start)
    assert ok(invoke(env, "campaigns", "pause", campaign_id)).stdout.strip().endswith("of acme-corp is paused")
    assert ok(invoke(env, "campaigns", "resume", campaign_id)).stdout.strip().endswith("is running")

    async def _paused_by(sessions: Any) -> str:
        async with sessions() as session:
            data = await session.scalar(select(WebhookEvent.data).where(WebhookEvent.type == "campaign.paused"))
            return data["reason"]

    assert with_store(env, _paused_by) == "paused by the operator"
    failed(invoke(env, "campaigns", "show", "00000000-0000-4000-8000-000000000000"), "no campaign with id")


def test_progress_line():
    view = {"total_contacts": 10, "completed_count": 5, "failed_count": 1, "skipped_count": 0}
    assert progress_line(view, width=10) == "[██████░░░░]  60% 6/10"
    assert progress_line(view | {"total_contacts": 0, "completed_count": 0, "failed_count": 0}, width=4) == "[░░░░]   0% 0/0"
