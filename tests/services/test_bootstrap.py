"""First development start: partner `dev` is created once, and never in production."""

from __future__ import annotations

from callwright.domain.providers import Provider
from callwright.services import partners
from callwright.services.bootstrap import ensure_dev_partner
from callwright.settings import Environment
from tests.conftest import TEST_ADMIN_TOKEN, make_partner


async def test_creates_dev_partner_once_with_a_working_key(platform, settings):
    async with platform.sessions() as session:
        key = await ensure_dev_partner(session=session, settings=settings)
    assert key is not None and key.partner_name == "dev" and not key.test_mode

    async with platform.sessions() as session:
        assert await ensure_dev_partner(session=session, settings=settings) is None
        partner = await partners.authenticate(session=session, api_key=key.api_key)
        assert partner is not None
        assert partner.name == "dev"
        assert partner.display_name == "Development"
        assert partner.allowed_providers == [p.value for p in Provider]
        assert partner.concurrency_limit == settings.default_concurrency_limit
        assert partner.agent_limit == settings.default_agent_limit
        assert len(await partners.list_partners(session=session)) == 1


async def test_no_dev_partner_when_any_partner_exists(platform, settings):
    await make_partner(platform, "acme-corp")
    async with platform.sessions() as session:
        assert await ensure_dev_partner(session=session, settings=settings) is None
        assert [p.name for p in await partners.list_partners(session=session)] == ["acme-corp"]


async def test_no_dev_partner_in_production(platform, settings):
    production = settings.model_copy(
        update={"env": Environment.PRODUCTION, "admin_token": TEST_ADMIN_TOKEN}
    )
    async with platform.sessions() as session:
        assert await ensure_dev_partner(session=session, settings=production) is None
        assert await partners.list_partners(session=session) == []
