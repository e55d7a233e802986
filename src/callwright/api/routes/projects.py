"""Projects: ``GET/POST /projects``, ``GET/PUT/DELETE /projects/{id}``, as the docs give them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from callwright.api.deps import CurrentPartner, SessionDep
from callwright.api.envelope import error_responses, ok, ok_list
from callwright.api.path_ids import ProjectId
from callwright.api.schemas.projects import ProjectCreate, ProjectUpdate, project_public
from callwright.services import projects as project_service

router = APIRouter(tags=["projects"])

_PROJECT_ID = ProjectId
_PROJECT = {
    "id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "name": "Client A",
    "description": "Agents for Client A",
    "is_default": False,
    "agent_count": 0,
    "created_at": "2026-03-26T10:00:00.000000Z",
    "updated_at": "2026-03-26T10:00:00.000000Z",
}


def _example(status: int, data: Any, *errors: int, **extra: Any) -> dict[int | str, Any]:
    body = {"success": True, "data": data} | extra
    return {status: {"content": {"application/json": {"example": body}}}} | error_responses(401, *errors)


@router.get(
    "/projects",
    summary="List projects",
    description="Every project of the account, the Default one first, each with its agent count.",
    responses=_example(
        200,
        [_PROJECT | {"name": "Default", "description": None, "is_default": True, "agent_count": 3}, _PROJECT],
        pagination={"limit": 100, "offset": 0, "total": 2},
    ),
)
async def list_projects(
    partner: CurrentPartner,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1–100.")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    rows, total, counts = await project_service.list_projects(
        session=session, partner=partner, limit=limit, offset=offset
    )
    data = [project_public(p, agent_count=counts.get(p.id, 0)) for p in rows]
    return ok_list(data, limit=limit, offset=offset, total=total)


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project",
    responses=_example(201, _PROJECT, 400, 403),
)
async def create_project(partner: CurrentPartner, session: SessionDep, body: ProjectCreate) -> dict[str, Any]:
    project = await project_service.create_project(
        session=session, partner=partner, name=body.name, description=body.description
    )
    return ok(project_public(project, agent_count=0))


async def _with_count(session: SessionDep, partner: CurrentPartner, project: Any) -> dict[str, Any]:
    counts = await project_service.agent_counts(session=session, partner_id=partner.id)
    return project_public(project, agent_count=counts.get(project.id, 0))


@router.get(
    "/projects/{project_id}",
    summary="Get a project",
    description="An id that is unknown or belongs to another account answers 404.",
    responses=_example(200, _PROJECT, 404),
)
async def get_project(partner: CurrentPartner, session: SessionDep, project_id: _PROJECT_ID) -> dict[str, Any]:
    project = await project_service.get_project(session=session, partner=partner, project_id=project_id)
    return ok(await _with_count(session, partner, project))


@router.put(
    "/projects/{project_id}",
    summary="Update a project's name or description",
    responses=_example(200, _PROJECT | {"name": "Client A (updated)"}, 400, 404),
)
async def update_project(
    partner: CurrentPartner, session: SessionDep, project_id: _PROJECT_ID, body: ProjectUpdate
) -> dict[str, Any]:
    project = await project_service.update_project(
        session=session, partner=partner, project_id=project_id, changes=body.changes()
    )
    return ok(await _with_count(session, partner, project))


@router.delete(
    "/projects/{project_id}",
    summary="Delete a project",
    description="Only a project with no agents, and never the Default project (409 otherwise).",
    responses=_example(200, {"id": _PROJECT["id"], "deleted": True}, 404, 409),
)
async def delete_project(partner: CurrentPartner, session: SessionDep, project_id: _PROJECT_ID) -> dict[str, Any]:
    deleted = await project_service.delete_project(session=session, partner=partner, project_id=project_id)
    return ok({"id": deleted, "deleted": True})
