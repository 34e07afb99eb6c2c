"""FastAPI dependencies, in one place (DESIGN §2 rule 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from idp.config import Settings
from idp.services import Services


# async: they only read app.state, so they need no trip through the thread pool.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_settings(request: Request) -> Settings:
    return request.app.state.services.settings


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns normally.

    Declared with ``scope="function"`` below so the commit happens *before* the response
    is sent: an RP that redeems a code the instant it arrives must find it committed.
    """
    services: Services = request.app.state.services
    with services.sessions() as session, session.begin():
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db, scope="function")]
