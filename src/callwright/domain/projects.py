"""Projects: the grouping of a partner's agents (Vocobase's sub-tenant level, e.g. "Client A").

Every partner has one Default project, made with the partner and never deleted; every agent is in
exactly one project (the Default one unless it says otherwise); a project that still has agents
cannot be deleted.
"""

from __future__ import annotations

from callwright.domain.errors import Conflict, Forbidden, ValidationFailed

DEFAULT_PROJECT_NAME = "Default"
NAME_MAX = 100
DESCRIPTION_MAX = 500
# Projects one partner may have: far above any real grouping, low enough that no partner can
# fill the store with them.
MAX_PROJECTS_PER_PARTNER = 1_000


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValidationFailed("name", f"name must be 1–{NAME_MAX} characters")
    return name


def check_description(description: str | None) -> str | None:
    if description is None:
        return None
    description = description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed("description", f"description must be at most {DESCRIPTION_MAX} characters")
    return description or None


def check_room(existing: int) -> None:
    if existing >= MAX_PROJECTS_PER_PARTNER:
        raise Forbidden(
            f"project limit reached: an account may have at most {MAX_PROJECTS_PER_PARTNER} projects",
            code="project_limit_reached",
        )


def check_deletable(*, is_default: bool, agent_count: int) -> None:
    """The Default project is never deleted; a project with agents is not deleted either."""
    if is_default:
        raise Conflict(
            "the Default project cannot be deleted; every account keeps one for its agents",
            code="default_project",
        )
    if agent_count:
        noun = "agent" if agent_count == 1 else "agents"
        raise Conflict(
            f"this project still has {agent_count} {noun}; move them to another project "
            "(PUT /agent/{id} with project_id) or delete them first",
            code="project_has_agents",
            details={"agent_count": agent_count},
        )
