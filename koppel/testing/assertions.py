"""What the kit asserts to a login method: its example for a kit person, and a spread of odd ones.

Names, e-mail addresses and ECK iDs come from the kit's made-up people, so the kit can look for
them in what the method logs; ids and BRINs are not personal and carry the odd values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from core.saml.method import Asserted, AssertedIdentity
from koppel.testing.people import KIT_BRIN6, KIT_SCHOOL_ID, KIT_SCHOOL_REF
from koppel.testing.roster import KitPerson, base_roster, odd_people
from koppel.testing.rules import ContractFailure, LoginMethodRule, require

Attributes = dict[str, tuple[str, ...]]

# Without an example_assertion: attribute names identity providers commonly send, and which
# part of the kit person each carries.
COMMON = {
    "brin": "brin",
    "nlEduPersonHomeOrganizationId": "brin",
    "schoolId": "school_id",
    "instellingRef": "school_ref",
    "uid": "user_id",
    "userId": "user_id",
    "employeeNumber": "user_id",
    "eckId": "eckid",
}
# Values a careless reading trips over: near-BRINs, direction marks, markup, line breaks.
ODD = ("99ZZ0", "99zz000", "\u202e99ZZ", "Ω'\"<&>;--", "🙂🙂🙂🙂", "a\tb\nc", "ß/../\\x")
LONG = 10_000


def who(person: KitPerson) -> AssertedIdentity:
    """Everything the kit knows of ``person`` at its school, for example_assertion to pick from."""
    return AssertedIdentity(
        school_ref=KIT_SCHOOL_REF,
        school_id=KIT_SCHOOL_ID,
        brin=KIT_BRIN6,
        user_id=person.key,
        eckid=person.eckid,
    )


def example_of(method: Any, person: KitPerson) -> Asserted | None:
    """The method's example_assertion for ``person`` (checked), or None when it has none."""
    example = getattr(method, "example_assertion", None)
    if example is None:
        return None
    rule = LoginMethodRule.MEMBERS
    require(callable(example), rule, "example_assertion is not a method")
    try:
        asserted = example(who(person))
    except Exception as exc:
        raise ContractFailure(rule, f"example_assertion raised {type(exc).__name__}") from exc
    require(isinstance(asserted, Asserted), rule, "example_assertion did not return an Asserted")
    assert isinstance(asserted, Asserted)
    require(
        asserted.name_id is None or isinstance(asserted.name_id, str),
        rule,
        "example_assertion's name_id is neither text nor None",
    )
    require(
        all(
            isinstance(name, str)
            and isinstance(values, tuple)
            and all(isinstance(v, str) for v in values)
            for name, values in asserted.attributes.items()
        ),
        rule,
        "example_assertion's attributes do not map names to tuples of text, e.g. "
        '{"eckId": (who.eckid,)}',
    )
    return asserted


def personal(person: KitPerson) -> Attributes:
    """The attributes that name the person, as identity providers send them besides ids."""
    full = " ".join(p for p in (person.first_name, person.prefix, person.last_name) if p)
    found = {"givenName": person.first_name, "sn": person.last_name, "cn": full}
    found |= {"displayName": full, "mail": person.email}
    return {name: (value,) for name, value in found.items() if value}


def _read(method: Any, person: KitPerson) -> tuple[str | None, Attributes]:
    """The name_id and id attributes the method's identity provider sends for ``person``."""
    example = example_of(method, person)
    if example is not None:
        return example.name_id, dict(example.attributes)
    known = who(person)
    return person.key, {name: (getattr(known, part),) for name, part in COMMON.items()}


def spread(method: Any) -> Iterator[tuple[str, Asserted]]:
    """(which case, the assertion): the plain one, then each attribute missing, empty, blank or
    valueless, several values, odd characters, very long values, no attributes, a name_id only."""
    idp = str(getattr(method, "name", "kit"))
    roster = base_roster().plus(*odd_people())
    person, other = roster.person("staff0"), roster.person("odd1")
    name_id, ids = _read(method, person)
    names = personal(person)

    def asserted(attributes: Mapping[str, tuple[str, ...]], nid: str | None = name_id) -> Asserted:
        return Asserted(idp, nid, {**names, **attributes})

    yield "the plain assertion", asserted(ids)
    yield "no attributes at all", Asserted(idp, None)
    yield "a name_id only", Asserted(idp, name_id)
    yield "names and e-mail but no ids", asserted({}, None)
    for name in ids:
        yield f"{name} missing", asserted({n: v for n, v in ids.items() if n != name})
        for label, values in (("empty", ("",)), ("blank", ("  ",)), ("valueless", ())):
            yield f"{name} {label}", asserted({**ids, name: values})
    _, others = _read(method, other)
    several = {n: v + others.get(n, ("12AB",)) for n, v in ids.items()}
    yield "several values each", asserted(several)
    for odd in ODD:
        yield f"every id {odd!r}", asserted({n: (odd,) for n in ids}, odd)
    long = {n: ((v[0] if v else "9") * LONG)[:LONG] for n, v in ids.items()}
    yield "very long values", asserted(long, "9" * LONG)


def personal_data() -> frozenset[str]:
    """What must never show in a log line or an error: the spread's people's personal data."""
    roster = base_roster().plus(*odd_people())
    return frozenset(roster.person("staff0").personal_data + roster.person("odd1").personal_data)
