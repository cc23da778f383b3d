"""Render a page: the Jinja2 templates with the language, the CSRF token and readable times."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.web.csrf import csrf_token
from api.web.i18n import LANGUAGE_COOKIE, language
from api.web.times import readable_time

TEMPLATES = Path(__file__).parent / "templates"

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """The page in the visitor's language.

    Templates write both languages side by side, ``{{ t("Opslaan", "Save") }}``, so a text and
    its translation never drift apart in separate files. ``when(moment)`` prints a readable
    Amsterdam time; ``csrf_token`` goes in every form's hidden ``csrf_token`` field.
    """
    lang = language(request)
    page = templates.get_template(template).render(
        request=request,
        lang=lang,
        t=lambda nl, en: en if lang == "en" else nl,
        when=lambda moment: readable_time(moment, lang),
        csrf_token=csrf_token(request),
        # The language switch reloads the page the visitor is on: relative on a GET (a page
        # names no other address than its own), after a form the form's page.
        switch_to="" if request.method in ("GET", "HEAD") else page_address(request) or "",
        **(context or {}),
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") in ("nl", "en"):
        response.set_cookie(
            LANGUAGE_COOKIE, lang, max_age=365 * 86400, secure=True, httponly=True, samesite="lax"
        )
    return response


def page_address(request: Request) -> str | None:
    """The page the visitor is on, to load again: this one for a GET; for a form posted, the
    page it was posted from (its Referer, on this site only), as the form's own address takes
    no GET. None when a form came without one."""
    if request.method in ("GET", "HEAD"):
        address = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        address = referer.path if referer.netloc == request.url.netloc else ""
    # A path of this site only: "//elsewhere" is read by a browser as another site.
    return address if address.startswith("/") and not address.startswith("//") else None


def message_page(
    request: Request,
    status_code: int,
    title: tuple[str, str],
    sentence: tuple[str, str],
    what_to_do: tuple[str, str] | None = None,
    try_again: str | None = None,
) -> HTMLResponse:
    """A page with one clear sentence (Dutch, English) and what to do: refusals, errors, notices;
    ``try_again``, an address, adds a link to it."""
    return render(
        request,
        "message.html",
        {"title": title, "sentence": sentence, "what_to_do": what_to_do, "try_again": try_again},
        status_code=status_code,
    )
