"""What one night does to one school: pupils move, leave and arrive; now and then staff change."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from plugins.basispoort.simulator.population import new_staff, pupil_maker
from plugins.basispoort.simulator.state import Pupil, SchoolContents, SchoolHeader

QUIET_SHARE = 0.2  # on a given night this share of schools changes nothing at all
SPREAD = (0.6, 1.9)  # per-school factor on the churn; its mean over busy nights is 1/(1-QUIET)
STAFF_CHANGE_AT_2_PERCENT = 0.15  # chance of a staff change in a busy night at 2% churn


def apply_night(
    contents: SchoolContents,
    header: SchoolHeader,
    rng: random.Random,
    churn: float,
    night_start: datetime,
) -> bool:
    """Apply one night's changes; say whether anything changed (and then move the stamp)."""
    if header.quiet or churn <= 0 or rng.random() < QUIET_SHARE:
        return False
    expected = churn * max(len(contents.pupils), 1) * rng.uniform(*SPREAD)
    # Random rounding keeps small schools changing now and then instead of never.
    changes = math.floor(expected) + (1 if rng.random() < expected % 1 else 0)
    ids = list(contents.pupils)
    new_pupil = pupil_maker(rng, contents)  # a night moves pupils, never groups
    changed = False
    for _ in range(changes):
        roll = rng.random()
        if roll < 0.4 and ids:
            changed |= _move(rng, contents, contents.pupils[rng.choice(ids)])
        elif roll < 0.7 and ids:
            index = rng.randrange(len(ids))
            ids[index], ids[-1] = ids[-1], ids[index]
            del contents.pupils[ids.pop()]
            changed = True
        else:
            pupil = new_pupil(rng.randint(1, 8))
            contents.pupils[pupil.id] = pupil
            ids.append(pupil.id)
            changed = True
    if rng.random() < min(1.0, STAFF_CHANGE_AT_2_PERCENT * churn / 0.02):
        changed |= _change_staff(rng, contents, header, night_start)
    # Only a school whose data really changed gets a new mutationTimestamp.
    if changed:
        contents.mutated_at = night_start + timedelta(seconds=rng.randrange(3 * 3600))
        return True
    return False


def _move(rng: random.Random, contents: SchoolContents, pupil: Pupil) -> bool:
    """Another parallel group of the same year, or else a change of subgroups."""
    others = [
        g.las_key
        for g in contents.groups_for_year(pupil.jaargroep or 0)
        if g.las_key != pupil.groep
    ]
    if others:
        pupil.groep = rng.choice(others)
        return True
    keys = [g.las_key for g in contents.subgroepen if g.las_key]
    if not keys:
        return False
    key = rng.choice(keys)
    if key in pupil.subgroepen:
        pupil.subgroepen.remove(key)
    else:
        pupil.subgroepen.append(key)
    return True


def _change_staff(
    rng: random.Random, contents: SchoolContents, header: SchoolHeader, night_start: datetime
) -> bool:
    """One leaves, a substitute (Inval) arrives, or a teacher takes another group."""
    roll = rng.random()
    members = list(contents.staff.values())
    if roll < 0.3 and members:
        del contents.staff[rng.choice(members).id]
        return True
    if roll < 0.6 or not members:
        domain = header.emailadres.split("@", 1)[1]
        end = (night_start + timedelta(days=rng.randint(7, 90))).date()
        member = new_staff(rng, contents, domain, ["Inval"], [], end=end)
        contents.staff[member.id] = member
        return True
    member = rng.choice(members)
    keys = [g.las_key for g in contents.groepen if g.las_key and [g.las_key] != member.groepen]
    if not keys:
        return False
    member.groepen = [rng.choice(keys)]
    return True
