"""Project rules: names, descriptions, how many, and what may be deleted."""

from __future__ import annotations

import pytest

from callwright.domain.errors import Conflict, Forbidden, ValidationFailed
from callwright.domain.projects import (
    MAX_PROJECTS_PER_PARTNER,
    check_deletable,
    check_description,
    check_name,
    check_room,
)


def test_names_are_trimmed_and_bounded():
    assert check_name("  Client A ") == "Client A"
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(ValidationFailed) as caught:
            check_name(bad)
        assert caught.value.field == "name"


def test_a_blank_description_is_none():
    assert check_description("  ") is None and check_description(None) is None
    assert check_description(" For A ") == "For A"
    with pytest.raises(ValidationFailed):
        check_description("d" * 501)


def test_the_default_project_and_a_project_with_agents_stay():
    check_deletable(is_default=False, agent_count=0)
    with pytest.raises(Conflict) as caught:
        check_deletable(is_default=True, agent_count=0)
    assert caught.value.code == "default_project"
    with pytest.raises(Conflict) as caught:
        check_deletable(is_default=False, agent_count=3)
    assert caught.value.code == "project_has_agents"
    assert caught.value.message.startswith("this project still has 3 agents;")


def test_a_partner_has_a_bounded_number_of_projects():
    check_room(MAX_PROJECTS_PER_PARTNER - 1)
    with pytest.raises(Forbidden):
        check_room(MAX_PROJECTS_PER_PARTNER)
