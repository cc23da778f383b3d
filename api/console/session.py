"""Who is signed in to the console (kept in the signed session cookie), and one-time notices."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.services import services
from core.operators import find_operator

OPERATOR_KEY = "console_operator"
NOTICE_KEY = "console_notice"
HOME = "/console"
SIGN_IN = "/console/sign-in"


class NotSignedIn(Exception):
    """A console page was asked for without a signed-in operator: answered by a redirect."""

    def __init__(self, path: str) -> None:
        self.path = path


@dataclass(frozen=True, slots=True)
class SignedInOperator:
    id: int
    name: str


def require_operator(request: Request) -> SignedInOperator:
    """A FastAPI dependency for every console page: the operator, or off to the sign-in page.

    The account is looked up on every page, so removing it ('koppel operators remove') ends
    its sessions at once.
    """
    name = request.session.get(OPERATOR_KEY)
    if isinstance(name, str):
        with services(request).session() as session:
            operator = find_operator(session, name)
            if operator is not None:
                return SignedInOperator(operator.id, operator.name)
        request.session.pop(OPERATOR_KEY, None)
    query = f"?{request.url.query}" if request.url.query else ""
    raise NotSignedIn(f"{request.url.path}{query}" if request.method == "GET" else HOME)


def start_session(request: Request, name: str) -> None:
    request.session[OPERATOR_KEY] = name


def end_session(request: Request) -> None:
    request.session.pop(OPERATOR_KEY, None)
    request.session.pop(NOTICE_KEY, None)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a console page only, never another site."""
    if path and path.startswith(HOME) and not path.startswith("//") and "\\" not in path:
        return path
    return HOME


# A notice is (kind, Dutch, English); kind is "ok" or "bad".
Notice = tuple[str, str, str]


def notify(request: Request, kind: str, nl: str, en: str) -> None:
    """A sentence for the next page (after a form's redirect), shown once."""
    request.session[NOTICE_KEY] = [kind, nl, en]


def take_notice(request: Request) -> Notice | None:
    found = request.session.pop(NOTICE_KEY, None)
    if isinstance(found, list) and len(found) == 3:
        return (str(found[0]), str(found[1]), str(found[2]))
    return None
