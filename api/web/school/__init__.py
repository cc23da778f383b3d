"""The school's Basispoort tab (issue 15): for one school's administrator, nobody else."""

from __future__ import annotations

from fastapi import FastAPI

from api.web.school.access import install_access
from api.web.school.routes import router


def install_school_pages(app: FastAPI) -> None:
    """The tab's pages and forms, its one-time links and its Basispoort sign-in continuation."""
    install_access(app)
    app.include_router(router)
