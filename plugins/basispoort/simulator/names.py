"""Dutch-looking names and places for the simulated schools, pupils and staff (all invented)."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable

from plugins.basispoort.simulator.draws import chooser

PersonName = tuple[str, str | None, str, str]  # voornaam, voorvoegsel, achternaam, voorletters

# fmt: off
FIRST_NAMES = (
    "Emma", "Julia", "Mila", "Tess", "Sophie", "Zoë", "Sara", "Nora", "Yara", "Eva", "Liv",
    "Lotte", "Anna", "Noor", "Fleur", "Saar", "Lieke", "Roos", "Maud", "Isa", "Fenna", "Jasmijn",
    "Daphne", "Elif", "Aya", "Hiba", "Chloë", "Femke", "Sanne", "Linde", "Noah", "Daan", "Sem",
    "Lucas", "Levi", "Finn", "Luuk", "Milan", "Bram", "Jesse", "Thijs", "Max", "Sam", "Mees",
    "Ruben", "Lars", "Daniël", "Thomas", "Siem", "Gijs", "Jens", "Stijn", "Teun", "Mohammed",
    "Adam", "Yusuf", "Ilias", "Joël", "Rayan", "Bilal", "Kai", "Jurre", "Boaz", "Olivier",
)

LAST_NAMES = (
    "Jansen", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters", "Hendriks", "Dekker",
    "Brouwer", "Dijkstra", "Kok", "Janssen", "Koster", "Prins", "Huisman", "Kuipers", "Postma",
    "Willems", "Yılmaz", "El Amrani", "Bakker", "Schouten", "Hoekstra", "Maas", "Verhoeven",  # noqa: RUF001 (Turkish dotless i)
    "Kramer", "Timmermans", "Groen", "Sluis", "Bouwman", "Wouters", "Kaya", "Öztürk", "Nguyen",
    "Sedney", "Roelofs", "Scholten", "Gerritsen", "Martens", "Bosman", "Veenstra", "Claassen",
)

# Surnames that come with a tussenvoegsel; the prefix is kept apart, as Basispoort does.
PREFIXED_LAST_NAMES = (
    ("de", "Jong"), ("de", "Vries"), ("van", "Dijk"), ("van den", "Berg"), ("van der", "Meer"),
    ("de", "Boer"), ("van", "Leeuwen"), ("de", "Groot"), ("van der", "Linden"), ("van", "Vliet"),
    ("van der", "Heijden"), ("de", "Graaf"), ("van", "Beek"), ("ter", "Horst"), ("'t", "Hart"),
    ("van de", "Ven"), ("in 't", "Veld"), ("den", "Hollander"), ("van", "Wijk"), ("de", "Wit"),
)

STREETS = (
    "Schoolstraat", "Kerkstraat", "Dorpsstraat", "Molenweg", "Julianalaan", "Beatrixstraat",
    "Wilhelminapark", "Lindelaan", "Eikenlaan", "Rembrandtplein", "Vondellaan", "Spoorstraat",
    "Tulpstraat", "Merelstraat", "Populierenweg", "Havenkade", "Kastanjelaan", "Prinsengracht",
    "Oranjestraat", "Zonnebloemweg", "Stationsweg", "Hoofdstraat", "Parklaan", "Vogelzang",
)

TOWNS = (
    ("Amsterdam", "020"), ("Rotterdam", "010"), ("Utrecht", "030"), ("Den Haag", "070"),
    ("Eindhoven", "040"), ("Groningen", "050"), ("Tilburg", "013"), ("Almere", "036"),
    ("Breda", "076"), ("Nijmegen", "024"), ("Apeldoorn", "055"), ("Haarlem", "023"),
    ("Arnhem", "026"), ("Zwolle", "038"), ("Leeuwarden", "058"), ("Maastricht", "043"),
    ("Dordrecht", "078"), ("Leiden", "071"), ("Emmen", "0591"), ("Ede", "0318"),
    ("'s-Hertogenbosch", "073"), ("Delft", "015"), ("Alkmaar", "072"), ("Deventer", "0570"),
    ("Hoorn", "0229"), ("Sneek", "0515"), ("Goes", "0113"), ("Winterswijk", "0543"),
)

SCHOOL_KINDS = (
    "Basisschool", "OBS", "CBS", "RKBS", "IKC", "PCBS", "Daltonschool", "Jenaplanschool",
)

SCHOOL_NAMES = (
    "De Regenboog", "Het Kompas", "De Wilgen", "De Vlinder", "Sint Jozef", "De Zonnewijzer",
    "Het Palet", "De Horizon", "De Springplank", "De Klimop", "Het Startpunt", "De Wegwijzer",
    "De Bron", "Het Mozaïek", "De Toermalijn", "Prins Willem-Alexander", "De Sterrenwacht",
    "De Fontein", "Het Anker", "De Notenkraker", "De Lindeboom", "De Meander", "Het Baken",
    "De Parel", "Sint Maarten", "De Boomgaard", "Het Vogelnest", "De Triangel", "Op de Berg",
)

SUBGROUP_NAMES = (
    "Leesgroep AVI E3", "Leesgroep AVI M4", "Leesgroep AVI E5", "Rekengroep niveau 1",
    "Rekengroep niveau 2", "Rekengroep niveau 3", "Plusklas", "Taalklas", "Spellinggroep A",
    "Spellinggroep B", "NT2-groep",
)
# fmt: on


# Each first name with its initial, so drawing a name does not build the initial again.
_FIRST_AND_INITIAL = tuple((name, name[0] + ".") for name in FIRST_NAMES)


def person_name(rng: random.Random) -> PersonName:
    """(voornaam, voorvoegsel, achternaam, voorletters) drawn from ``rng``."""
    return name_drawer(rng)()


def name_drawer(rng: random.Random) -> Callable[[], PersonName]:
    """person_name(rng) as a function to call once per person: cheaper for a whole school."""
    random = rng.random
    choose_first = chooser(rng, _FIRST_AND_INITIAL)
    choose_prefixed = chooser(rng, PREFIXED_LAST_NAMES)
    choose_last = chooser(rng, LAST_NAMES)

    def draw() -> PersonName:
        first, initials = choose_first()
        prefix: str | None
        if random() < 0.3:
            prefix, last = choose_prefixed()
        else:
            prefix, last = None, choose_last()
        if random() < 0.25:  # some have a second given name, visible only in the initials
            initials += choose_first()[1]
        return first, prefix, last, initials

    return draw


def ascii_fold(text: str) -> str:
    """'Zoë' -> 'Zoe': for e-mail addresses and domain names."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
