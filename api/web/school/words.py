"""The Basispoort tab's words, Dutch and English: outcomes, changes, refusals, plan actions."""

from __future__ import annotations

from core.admin_links import LinkProblem
from core.models import Outcome

Words = tuple[str, str]  # (Dutch, English)

RUN_OUTCOMES: dict[str, Words] = {
    Outcome.SUCCEEDED: ("gelukt", "succeeded"),
    Outcome.UNCHANGED: ("niets veranderd", "unchanged"),
    Outcome.FAILED: ("mislukt", "failed"),
    Outcome.HELD: ("tegengehouden", "held"),
    Outcome.SKIPPED: ("overgeslagen", "skipped"),
    Outcome.RUNNING: ("bezig", "running"),
}

CONSENT: dict[str, Words] = {
    "granted": ("verleend", "granted"),
    "revoked": ("ingetrokken", "revoked"),
    "none": ("niet verleend", "not granted"),
}

KINDS: dict[str, Words] = {
    "pupils": ("leerlingen", "pupils"),
    "staff": ("medewerkers", "staff"),
    "groups": ("groepen", "groups"),
    "networks": ("netwerken", "networks"),
}

PERSON_KINDS: dict[str, Words] = {"pupil": ("leerling", "pupil"), "staff": ("medewerker", "staff")}

# A sync run's count keys are "<kind>_<change>" (core/sync/plan.py, core/sync/merge.py).
CHANGES: dict[str, Words] = {
    "created": ("nieuw", "new"),
    "added": ("toegevoegd", "added"),
    "updated": ("gewijzigd", "changed"),
    "left": ("vertrokken", "left"),
    "removed": ("verwijderd", "removed"),
    "restored": ("teruggekomen", "came back"),
    "rekeyed": ("nieuw Basispoort-id", "new Basispoort id"),
    "moved": ("naar een andere groep", "to another group"),
    "moved_to_target": ("naar de nieuwe school", "to the new school"),
    "closed": ("gesloten", "closed"),
}

# What a held plan does to people or groups (core/plans.show_plan's record lists), as a heading.
PLAN_ACTIONS: dict[str, Words] = {
    "create": ("Nieuw", "New"),
    "remove": ("Vertrekken", "Leaving"),
    "update": ("Veranderen", "Changing"),
    "restore": ("Komen terug", "Coming back"),
    "rekey": ("Krijgen een nieuw Basispoort-id", "Getting a new Basispoort id"),
    "move": ("Gaan naar de nieuwe school", "Moving to the new school"),
    "stay": ("Staan al bij de nieuwe school", "Already at the new school"),
    "close": ("Worden gesloten", "Being closed"),
}

LINK_PROBLEMS: dict[LinkProblem, Words] = {
    LinkProblem.UNKNOWN: (
        "Deze link is niet (meer) geldig.",
        "This link is not valid (any more).",
    ),
    LinkProblem.USED: (
        "Deze link is al gebruikt. Een link werkt maar één keer.",
        "This link has been used already. A link works only once.",
    ),
    LinkProblem.EXPIRED: (
        "Deze link is verlopen. Een link werkt maar één minuut.",
        "This link has expired. A link works for one minute only.",
    ),
}

# InvalidNetwork.problem (core/login/networks.py decides; these only say it).
NETWORK_PROBLEMS: dict[str, Words] = {
    "malformed": (
        "„{entry}” is geen IP-adres of netwerk. Schrijf een adres (192.0.2.7) of een netwerk "
        "in CIDR-notatie (192.0.2.0/24).",
        "“{entry}” is not an IP address or network. Write an address (192.0.2.7) or a network "
        "in CIDR notation (192.0.2.0/24).",
    ),
    "host_bits": (
        "„{entry}” noemt één adres met de lengte van een netwerk. Bedoel je het hele netwerk, "
        "schrijf dan {whole}; bedoel je dat ene adres, schrijf dan {one}.",
        "“{entry}” names one address with a network's length. For the whole network write "
        "{whole}; for that one address write {one}.",
    ),
    "too_wide": (
        "„{entry}” is te groot: ruimer dan {widest} staat vrijwel iedereen toe, ook thuis. "
        "Geef de netwerken van de school zelf op.",
        "“{entry}” is too wide: wider than {widest} lets nearly everyone in, at home too. "
        "List the school's own networks.",
    ),
    "private": (
        "„{entry}” is een privé-netwerk, alleen binnen een gebouw te zien. Het LVS ziet het "
        "openbare adres van de school: zoek dat op met een 'wat is mijn IP'-pagina op een "
        "schoolcomputer, of vraag het de ICT-leverancier.",
        "“{entry}” is a private network, seen only inside a building. The LVS sees the "
        "school's public address: look it up on a 'what is my IP' page from a school "
        "computer, or ask the IT provider.",
    ),
}


def changes_text(counts: dict[str, int] | None, lang: str) -> str:
    """'leerlingen: 3 nieuw, 1 vertrokken; groepen: 1 gewijzigd', or '' when nothing changed."""
    pick = 1 if lang == "en" else 0
    parts: list[str] = []
    for kind, kind_words in KINDS.items():
        said = [
            f"{n} {CHANGES[change][pick]}"
            for key, n in sorted((counts or {}).items())
            if n and key.startswith(f"{kind}_") and (change := key[len(kind) + 1 :]) in CHANGES
        ]
        if said:
            parts.append(f"{kind_words[pick]}: {', '.join(said)}")
    return "; ".join(parts)
