"""End to end: 'koppel plans', 'status', 'consent sweep' and 'purge' against the simulator."""

from __future__ import annotations

import json

from plugins.basispoort.simulator import World


def _surnames(world: World, school_id: int) -> set[str]:
    served = world.leerlingen(school_id)["leerlingen"]
    return {p["persoonsgegevens"]["achternaam"] for p in served} - {None}


def test_hold_show_approve_and_status(koppel, sim_world: World):
    school_id = sim_world.find("quiet")
    brin6 = sim_world.school(school_id).brin6
    surnames = _surnames(sim_world, school_id)
    assert koppel("check", brin6)[0] == 0
    assert koppel("sync", brin6)[0] == 0
    gone = sim_world.remove_pupils(school_id, 0.6)

    code, out = koppel("sync", brin6)
    assert code == 2 and "held" in out

    code, out = koppel("plans", "list", "--json")
    plans = json.loads(out)
    assert code == 0 and [(p["brin6"], p["status"]) for p in plans] == [(brin6, "held")]
    plan_id = plans[0]["id"]
    assert plans[0]["counts"]["pupils_left"] == len(gone)

    code, out = koppel("plans", "show", str(plan_id))
    assert code == 0
    assert f"pupils remove ({len(gone)})" in out and "--json shows all" in out
    assert not any(name in out for name in surnames)
    shown = json.loads(koppel("plans", "show", str(plan_id), "--json")[1])
    removed = {r["source_id"] for r in shown["records"]["pupils"]["remove"]}
    assert removed == {str(i) for i in gone}
    assert not any(name in json.dumps(shown) for name in surnames)

    status = json.loads(koppel("status", brin6, "--json")[1])
    assert [p["id"] for p in status["held_plans"]] == [plan_id]
    assert status["last_run"]["outcome"] == "held"

    code, out = koppel("plans", "approve", str(plan_id), "--by", "juf.admin")
    assert code == 0, out
    assert f"plan {plan_id} applied" in out and f"pupils_left {len(gone)}" in out
    code, out = koppel("plans", "approve", str(plan_id))
    assert code == 1 and "is approved, not held" in out

    status = json.loads(koppel("status", brin6, "--json")[1])
    assert status["held_plans"] == []
    assert status["counts"]["pupils"]["left"] == len(gone)
    assert status["last_success"]["trigger"] == "approval"
    decided = json.loads(koppel("plans", "list", "--all", "--json")[1])
    assert [(p["status"], p["decided_by"]) for p in decided] == [("approved", "juf.admin")]

    code, out = koppel("status")
    assert code == 0 and "schools ran" in out and "held plans waiting: 0" in out
    night = json.loads(koppel("status", "--json")[1])
    assert night["outcomes"]["succeeded"] == 1  # the approval run is the school's latest


def test_a_stale_approval_says_so_and_a_rejection_applies_nothing(koppel, sim_world: World):
    school_id = sim_world.find("quiet")
    brin6 = sim_world.school(school_id).brin6
    koppel("check", brin6)
    koppel("sync", brin6)
    sim_world.empty_school(school_id)
    assert koppel("sync", brin6)[0] == 2
    first = json.loads(koppel("plans", "list", "--json")[1])[0]["id"]
    sim_world.add_pupils(school_id, 3)  # the source changes after the plan was made

    code, out = koppel("plans", "approve", str(first))

    assert code == 2
    assert f"plan {first} was not applied" in out and "marked stale" in out
    second = json.loads(koppel("plans", "list", "--json")[1])[0]["id"]
    assert second != first and f"held as plan {second}" in out

    before = koppel("export", brin6, "--json")[1]
    code, out = koppel("plans", "reject", str(second), "--by", "tester")
    assert code == 0 and "nothing was applied" in out
    assert koppel("export", brin6, "--json")[1] == before
    assert koppel("plans", "list")[1].strip() == "no held plans"
    code, out = koppel("plans", "show", "999999")
    assert code == 1 and "there is no plan 999999" in out


def test_consent_sweep_and_purge(koppel, sim_world: World):
    school_id = sim_world.find("quiet")
    brin6 = sim_world.school(school_id).brin6
    surnames = _surnames(sim_world, school_id)
    koppel("check", brin6)
    koppel("sync", brin6)
    sim_world.set_consent(school_id, False)

    code, out = koppel("consent", "sweep", "--day", sim_world.today.isoformat(), "--json")
    swept = json.loads(out)
    assert code == 0 and len(swept["revoked"]) == 1
    assert json.loads(koppel("sync", brin6, "--json")[1])["outcome"] == "skipped"

    code, out = koppel("purge", "--dry-run")
    assert code == 0 and "would purge 1 schools" in out
    assert any(name in koppel("export", brin6, "--json")[1] for name in surnames)
    code, out = koppel("purge", "--json")
    report = json.loads(out)
    assert report["totals"]["pupils"] == len(sim_world.pupil_ids(school_id))
    exported = koppel("export", brin6, "--json")[1]
    assert not any(name in exported for name in surnames)
    assert json.loads(koppel("status", brin6, "--json")[1])["counts"]["pupils"]["purged"] > 0

    # Granted again: the sweep links it and, without a broker, syncs it here and now.
    sim_world.set_consent(school_id, True)
    code, out = koppel("consent", "sweep", "--day", sim_world.today.isoformat(), "--json")
    swept = json.loads(out)
    assert swept["granted"] == swept["queued"] and len(swept["granted"]) == 1
    assert list(swept["synced"].values()) == ["succeeded"]
    assert any(name in koppel("export", brin6, "--json")[1] for name in surnames)


def test_a_merger_is_held_shown_by_id_and_moved_on_approval(koppel, sim_world: World):
    merged_id, target_id = sim_world.find("merged"), sim_world.find("merge_target")
    sim_world.merge(merged_id, None)
    brin6, target_brin6 = sim_world.school(merged_id).brin6, sim_world.school(target_id).brin6
    surnames = _surnames(sim_world, merged_id)
    assert koppel("check", brin6)[0] == 0
    assert koppel("sync", brin6)[0] == 0
    pupils = len(sim_world.pupil_ids(merged_id))
    sim_world.merge(merged_id, target_id)

    code, out = koppel("sync", brin6, "--force")

    assert code == 2 and "held" in out and "its people would move there" in out
    plan_id = json.loads(koppel("plans", "list", "--json")[1])[0]["id"]
    code, out = koppel("plans", "show", str(plan_id))
    assert code == 0 and f"pupils move ({pupils})" in out
    assert not any(name in out for name in surnames)
    assert koppel("export", target_brin6, "--json")[0] != 0  # not linked while held

    code, out = koppel("plans", "approve", str(plan_id), "--by", "juf.admin")

    assert code == 0, out
    assert f"pupils_moved_to_target {pupils}" in out
    moved = json.loads(koppel("export", target_brin6, "--json")[1])
    assert len([p for p in moved["pupils"] if not p["left"]]) == pupils
