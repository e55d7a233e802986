"""What an agent's settings add to a session, worked out once as it starts, the same way for a
phone call (``services.media_sockets``) and a browser session (``services.browser_sessions``):

- its dictionaries, in the script: the STT's vocabulary and the TTS's pronunciations;
- its background audio: a mixer whose bed loads, at the rate the session's leg sends, while the
  greeting plays;
- its knowledge-base documents, searched on each caller turn.

Everything is read as it is when the session starts (the agent's snapshot for the settings, the
store for the dictionaries' terms and the linked documents), for the session's own partner only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callwright.domain.agent_spec import AgentSpec
from callwright.services import background_audio, dictionaries, kb_retrieval

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.services.kb_retrieval import CallKnowledge
    from callwright.voice.background import BackgroundMixer
    from callwright.voice.session import AgentScript


@dataclass
class SessionSetup:
    script: AgentScript  # with the dictionaries' vocabulary and pronunciations
    background: BackgroundMixer | None  # None: the agent has no background audio
    knowledge: CallKnowledge | None  # None: no ready document is linked to the agent
    loading: asyncio.Task[None] | None = None  # loads the bed; the session does not wait for it

    def release(self) -> None:
        """Stop loading the bed if the session ended before it loaded (idempotent)."""
        if self.loading is not None and not self.loading.done():
            self.loading.cancel()


async def setup_session(
    *,
    platform: Platform,
    partner_id: str,
    agent_id: str | None,
    agent: dict[str, Any],
    script: AgentScript,
    output_sample_rate: int,
) -> SessionSetup:
    """The session's script with its dictionaries, its background mixer (the bed at
    ``output_sample_rate``, the rate its leg sends) and its knowledge."""
    spec = AgentSpec.parse(agent)
    script = await dictionaries.with_dictionaries(platform=platform, partner_id=partner_id, spec=spec, script=script)
    background, loading = background_audio.mixer_for_session(
        platform=platform, partner_id=partner_id, spec=spec, sample_rate=output_sample_rate
    )
    setup = SessionSetup(script=script, background=background, knowledge=None, loading=loading)
    try:
        setup.knowledge = await kb_retrieval.knowledge_for_session(
            platform=platform, partner_id=partner_id, agent_id=agent_id, spec=spec
        )
    except BaseException:
        setup.release()
        raise
    return setup
