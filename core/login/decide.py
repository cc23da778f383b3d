"""The one door for a login decision: resolve the person, scope the school, judge, audit.

Every way in (the evaluate API, the SAML login) calls ``decide_login``; none repeats its steps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from core.login.attempt import LoginAttempt, make_attempt
from core.login.client_address import ClientAddress
from core.login.decision import Decision
from core.login.evaluate import evaluate_login
from core.login.identity import IdentityProblem, LoginIdentity, ResolvedIdentity, resolve_identity
from core.login.networks import networks_read_with_login
from core.plugins import Plugins
from core.settings import Settings

log = structlog.get_logger()


def decide_login(
    session: Session,
    identity: LoginIdentity,
    client: ClientAddress,
    at: datetime,
    plugins: Plugins,
    settings: Settings,
    *,
    school_allowed: Callable[[str], bool] | None = None,
) -> tuple[LoginAttempt, Decision]:
    """Decide one login and write its denials to the audit; flushes, the caller commits.

    ``client`` is the address derived from the request (core.login.client_address); ``at`` must
    be timezone-aware. ``school_allowed`` takes a school's BRIN6: a school it refuses is treated
    as not linked (``core:school_unknown``), so a caller scoped to other schools learns nothing
    about this one. None means every school.
    """
    resolved = resolve_identity(session, identity)
    if (
        school_allowed is not None
        and resolved.school is not None
        and not school_allowed(resolved.school.brin6)
    ):
        log.warning("login_school_outside_token_scope", school_id=resolved.school.id)
        resolved = ResolvedIdentity(None, problem=IdentityProblem.UNKNOWN_SCHOOL)
    attempt = make_attempt(session, resolved, client, at)
    school_id = resolved.school.id if resolved.school is not None else None
    with networks_read_with_login(session, school_id, resolved.networks):
        return attempt, evaluate_login(session, attempt, plugins, settings)
