"""Fictional sample practitioners for the demo, the tests and the benchmarks.

Everything here is invented except the postcodes, which are real GB postcodes
drawn from the gazetteer so the sample spreads like the population does (a
postcode unit is about 15 homes, so picking units at random puts more
practitioners in cities). The people, practices, streets, phone numbers
(Ofcom's drama ranges), web addresses (the reserved ``.example`` domain) and
HCPC numbers (``PH`` + 7 digits; real ones have at most 6) cannot belong to
anyone. Every record carries ``is_sample=True`` and its bio says it is fictional;
the site shows a banner for them.

The mix is meant to look like a real directory: about a sixth neurological
(over half of those with multiple sclerosis experience), NHS, private and
charity services in every setting, home visits with 5-30 km radii, NHS
self-referral limited to musculoskeletal problems for many services, and
registration statuses covering every badge the site shows.

``generate_records(count, seed)`` is deterministic: the same seed and the same
gazetteer give the same records.
"""

from __future__ import annotations

import csv
import os
import random
import time
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any

from finder.errors import InvalidValue
from finder.geo.gazetteer import Gazetteer, open_gazetteer
from finder.geo.postcode import area_of, outcode_of
from finder.records import Record

#: Provenance source of generated records (the CSV importer uses its own).
SAMPLE_SOURCE = "sample"
#: Dates in the sample count back from this day, so output never depends on today.
SAMPLE_AS_OF = date(2026, 11, 1)
#: Said at the start of every sample bio.
FICTIONAL_NOTE = "Fictional sample listing: this person and practice do not exist."
#: Most records one call generates.
MAX_COUNT = 2_000_000
#: Where demo searches look for a practitioner with MS experience ("LS6 + multiple sclerosis").
DEMO_OUTCODE = "LS6"

# ---------------------------------------------------------------------------
# invented words: syllables put together, so names are unlikely to be anyone's

_GIVEN_FEMININE = ["Aderyn", "Alvara", "Belisa", "Brienna", "Calisa", "Carys", "Delphine", "Elowen", "Emberly", "Fenna", "Idony", "Isolde", "Jessamy", "Kestra", "Liora", "Lowenna", "Maelis", "Marisol", "Nerys", "Odalie", "Orlaith", "Perrine", "Rhosyn", "Saoirla", "Seren", "Solenne", "Tamsin", "Teleri", "Verity", "Wenna", "Ysolde", "Zinnia", "Avelina", "Brannagh", "Cerys", "Doriel", "Elspeth", "Faelan", "Gwenllian", "Hestia"]
_GIVEN_MASCULINE = ["Alaric", "Bastian", "Caedmon", "Corentin", "Dafydd", "Emrys", "Evander", "Fintan", "Gethin", "Hadrian", "Idris", "Jory", "Kenric", "Lorcan", "Madoc", "Niall", "Oisin", "Peregrine", "Quillon", "Rhodri", "Soren", "Tavish", "Tudor", "Ulric", "Wystan", "Yestin", "Zephyr", "Anselm", "Brennick", "Cadell", "Dorian", "Edric", "Faramond", "Garrick"]
_GIVEN_NEUTRAL = ["Arden", "Bryn", "Ellis", "Jules", "Kit", "Lark", "Morgan", "Quinn", "Rowan", "Sage", "Tegan", "Wren"]
_SURNAME_HEADS = ["Ald", "Bram", "Cald", "Dunn", "Ever", "Fal", "Grin", "Hark", "Ivel", "Jesk", "Kestle", "Lom", "Merr", "Nock", "Oaken", "Pell", "Quar", "Rill", "Stave", "Tull", "Urr", "Vant", "Whin", "Yeld", "Brack", "Corve", "Drissel", "Fenw", "Gorm", "Hollin", "Kettle", "Lusk", "Morv", "Nant", "Orrin", "Pask", "Rundle", "Skel"]
_SURNAME_TAILS = ["abrook", "acre", "bury", "cott", "dale", "ford", "gate", "holm", "ington", "lock", "more", "ridge", "shaw", "thwaite", "ward", "wick", "wood", "lowe", "stead", "hurst"]
_PLACE_HEADS = ["Ash", "Bramble", "Calder", "Dunlin", "Elder", "Fennel", "Gorse", "Heron", "Juniper", "Kestrel", "Larch", "Merlin", "Nettle", "Osprey", "Plover", "Quill", "Rowan", "Sedge", "Thistle", "Umber", "Vetch", "Willow", "Yarrow", "Alder", "Bracken", "Curlew", "Dipper", "Eyot", "Fieldfare", "Linnet"]
_PLACE_TAILS = ["brook", "combe", "dene", "field", "gate", "holt", "hurst", "leigh", "mere", "moor", "ridge", "stead", "wick", "worth", "lea"]
_STREET_KINDS = ["Road", "Street", "Lane", "Avenue", "Way", "Close", "Terrace", "Grove", "Crescent", "Place"]

# Ofcom's numbers reserved for drama: (prefix, first of the 1,000 numbers).
_DRAMA_PHONES: dict[str, str] = {
    "LS": "0113 496 0", "S": "0114 496 0", "NG": "0115 496 0", "LE": "0116 496 0", "BS": "0117 496 0",
    "RG": "0118 496 0", "B": "0121 496 0", "EH": "0131 496 0", "G": "0141 496 0", "L": "0151 496 0",
    "M": "0161 496 0", "NE": "0191 498 0", "SR": "0191 498 0", "DH": "0191 498 0", "CF": "029 2018 0",
}
_LONDON_AREAS = frozenset({"E", "EC", "N", "NW", "SE", "SW", "W", "WC", "BR", "CR", "EN", "HA", "IG", "KT", "RM", "SM", "TW", "UB"})
_WELSH_AREAS = frozenset({"CF", "SA", "LL", "LD", "NP"})
_GAELIC_AREAS = frozenset({"HS", "IV", "PA", "PH", "KW"})
_OTHER_LANGUAGES = ["polish", "urdu", "punjabi", "bengali", "gujarati", "hindi", "arabic", "spanish", "french", "german", "italian", "portuguese", "romanian", "tamil", "malayalam", "cantonese", "mandarin", "somali", "turkish", "kurdish", "persian", "greek", "lithuanian", "russian", "ukrainian", "irish"]

# ---------------------------------------------------------------------------
# clinical content, by specialism

_CONDITIONS: dict[str, tuple[str, ...]] = {
    "neurological": ("stroke", "parkinsons", "brain_injury", "spasticity", "fatigue", "balance_problems",
                     "falls", "motor_neurone_disease", "spinal_cord_injury", "functional_neurological_disorder",
                     "cerebral_palsy"),
    "musculoskeletal": ("back_pain", "neck_pain", "shoulder_pain", "knee_pain", "arthritis", "whiplash",
                        "post_operative_rehab", "headache", "osteoporosis"),
    "sports": ("sports_injury", "knee_pain", "shoulder_pain", "post_operative_rehab"),
    "paediatrics": ("developmental_delay", "cerebral_palsy"),
    "respiratory": ("copd", "long_covid", "fatigue"),
    "pelvic_health": ("continence", "pregnancy_related", "back_pain"),
    "older_people": ("falls", "balance_problems", "arthritis", "osteoporosis"),
    "vestibular": ("dizziness", "balance_problems", "headache"),
    "amputee": ("amputation",),
    "cardiac": ("heart_conditions", "fatigue"),
    "pain_management": ("chronic_pain", "fibromyalgia", "back_pain"),
    "occupational_health": ("work_related_injury", "back_pain", "neck_pain"),
}
_TREATMENTS: dict[str, tuple[str, ...]] = {
    "neurological": ("gait_training", "balance_training", "spasticity_management", "fatigue_management",
                     "fes", "hydrotherapy", "mobility_aids", "orthotics", "home_exercise_plan"),
    "musculoskeletal": ("manual_therapy", "massage", "manipulation", "acupuncture", "ultrasound", "tens",
                        "heat_cold_therapy", "pilates", "education_advice"),
    "sports": ("manual_therapy", "massage", "exercise_programme", "heat_cold_therapy", "ultrasound"),
    "paediatrics": ("exercise_programme", "orthotics", "hydrotherapy", "mobility_aids"),
    "respiratory": ("breathing_techniques", "exercise_programme", "education_advice"),
    "pelvic_health": ("exercise_programme", "education_advice", "tens", "manual_therapy"),
    "older_people": ("falls_prevention", "balance_training", "mobility_aids", "exercise_programme"),
    "vestibular": ("vestibular_rehabilitation", "balance_training"),
    "amputee": ("gait_training", "mobility_aids", "exercise_programme"),
    "cardiac": ("exercise_programme", "education_advice"),
    "pain_management": ("education_advice", "tens", "acupuncture", "exercise_programme", "pilates"),
    "occupational_health": ("education_advice", "exercise_programme", "manual_therapy"),
}
_MEMBERSHIP_FOR = {
    "neurological": ("acpin", 0.65),
    "sports": ("acpsem", 0.5),
    "pelvic_health": ("pogp", 0.7),
    "respiratory": ("acprc", 0.6),
    "paediatrics": ("apcp", 0.7),
    "older_people": ("agile", 0.4),
}
_ROLE = {
    "neurological": "neurological physiotherapist",
    "musculoskeletal": "musculoskeletal physiotherapist",
    "sports": "sports physiotherapist",
    "paediatrics": "children's physiotherapist",
    "respiratory": "respiratory physiotherapist",
    "pelvic_health": "pelvic health physiotherapist",
    "older_people": "physiotherapist for older people",
    "vestibular": "vestibular physiotherapist",
    "amputee": "amputee rehabilitation physiotherapist",
    "cardiac": "cardiac rehabilitation physiotherapist",
    "pain_management": "physiotherapist in persistent pain",
    "occupational_health": "occupational health physiotherapist",
}


@dataclass(frozen=True)
class _Profile:
    """A kind of service: who runs it, where, how it is paid for and reached."""

    name: str
    weight: float
    sector: str  # "nhs" | "private" | "charity" | "work"
    specialisms: tuple[tuple[str, float], ...]  # main specialism choices with weights


_PROFILES: tuple[_Profile, ...] = (
    _Profile("nhs_msk", 27, "nhs", (("musculoskeletal", 1.0),)),
    _Profile("private_msk", 30, "private", (("musculoskeletal", 0.75), ("sports", 0.25))),
    _Profile("nhs_neuro", 7, "nhs", (("neurological", 1.0),)),
    _Profile("private_neuro", 6.5, "private", (("neurological", 1.0),)),
    _Profile("charity_neuro", 3, "charity", (("neurological", 1.0),)),
    _Profile("nhs_other", 12, "nhs", (("respiratory", 0.22), ("paediatrics", 0.18), ("pelvic_health", 0.15),
                                      ("older_people", 0.2), ("cardiac", 0.1), ("amputee", 0.05),
                                      ("vestibular", 0.05), ("pain_management", 0.05))),
    _Profile("private_other", 11, "private", (("pelvic_health", 0.3), ("sports", 0.3), ("paediatrics", 0.1),
                                             ("vestibular", 0.1), ("pain_management", 0.1), ("older_people", 0.1))),
    _Profile("workplace", 3.5, "work", (("occupational_health", 1.0),)),
)
_PROFILE_CUM = list(accumulate(p.weight for p in _PROFILES))

_STATUSES = (
    ("registered", 85.0),
    ("unchecked", 8.0),
    ("lapsed", 2.5),
    ("conditions_of_practice", 1.5),
    ("suspended", 1.0),
    ("not_found", 1.0),
    ("removed", 1.0),
)
_STATUS_CUM = list(accumulate(w for _, w in _STATUSES))


def _pick(rng: random.Random, items: tuple[tuple[str, float], ...] | list[tuple[str, float]]) -> str:
    total = sum(w for _, w in items)
    point = rng.random() * total
    for value, weight in items:
        point -= weight
        if point < 0:
            return value
    return items[-1][0]


def _some(rng: random.Random, options: tuple[str, ...], low: int, high: int) -> list[str]:
    return rng.sample(options, min(len(options), rng.randint(low, high)))


def _invented_word(rng: random.Random, heads: list[str], tails: list[str]) -> str:
    return rng.choice(heads) + rng.choice(tails)


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


def hcpc_number(index: int) -> str:
    """PH99xxxxx, then PH98xxxxx, ...: 7 digits, a range no real registrant has."""
    block, rest = divmod(index, 100_000)
    return f"PH{(99 - block) * 100_000 + rest:07d}"


# ---------------------------------------------------------------------------
# where: real postcodes, weighted by how many postcodes each sector has


@dataclass(frozen=True)
class _Spot:
    postcode: str
    lat: float
    lon: float
    town: str


class _Postcodes:
    """Random real postcodes: a sector chosen by its number of postcodes, then one of them."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        sectors = gazetteer.sector_units()
        if not sectors:
            raise InvalidValue(f"the gazetteer at {gazetteer.path} has no postcodes: run `finder geo build`")
        self._gazetteer = gazetteer
        self._sectors = [s for s, _ in sectors]
        self._cum = list(accumulate(n for _, n in sectors))
        self._units: dict[str, list[tuple[str, float, float]]] = {}
        self._towns = gazetteer.outcode_towns()
        self._by_outcode: dict[str, list[str]] = {}
        for sector in self._sectors:
            self._by_outcode.setdefault(sector.split(" ")[0], []).append(sector)

    def _spot(self, rng: random.Random, sector: str) -> _Spot:
        units = self._units.get(sector)
        if units is None:
            units = self._units[sector] = self._gazetteer.units_in_sector(sector)
        postcode, lat, lon = units[rng.randrange(len(units))]
        outcode = outcode_of(postcode)
        return _Spot(postcode, lat, lon, self._towns.get(outcode, ""))

    def anywhere(self, rng: random.Random) -> _Spot:
        index = bisect_right(self._cum, rng.random() * self._cum[-1])
        return self._spot(rng, self._sectors[min(index, len(self._sectors) - 1)])

    def near(self, rng: random.Random, spot: _Spot) -> _Spot:
        """Another postcode in the same district (a second clinic nearby)."""
        return self._spot(rng, rng.choice(self._by_outcode[outcode_of(spot.postcode)]))

    def in_outcode(self, rng: random.Random, outcode: str) -> _Spot | None:
        sectors = self._by_outcode.get(outcode)
        return self._spot(rng, rng.choice(sectors)) if sectors else None


# ---------------------------------------------------------------------------
# one practitioner


class _Generator:
    def __init__(self, seed: int, postcodes: _Postcodes) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible fiction, not secrets
        self.postcodes = postcodes

    # ---- small pieces ---------------------------------------------------------

    def person(self) -> tuple[str, str | None]:
        rng = self.rng
        gender = _pick(rng, (("female", 72), ("male", 26), ("non_binary", 1), ("", 1))) or None
        pool = {"female": _GIVEN_FEMININE, "male": _GIVEN_MASCULINE}.get(gender or "", _GIVEN_NEUTRAL)
        given = rng.choice(pool if rng.random() < 0.9 else _GIVEN_NEUTRAL)
        surname = _invented_word(rng, _SURNAME_HEADS, _SURNAME_TAILS)
        if rng.random() < 0.06:
            surname = f"{surname}-{_invented_word(rng, _SURNAME_HEADS, _SURNAME_TAILS)}"
        return f"{given} {surname}", gender

    def phone(self, postcode: str | None) -> str:
        number = self.rng.randrange(1000)
        area = area_of(postcode) if postcode else ""
        if area in _LONDON_AREAS:
            return f"020 7946 0{number:03d}"
        prefix = _DRAMA_PHONES.get(area)
        if prefix:
            return f"{prefix}{number:03d}"
        return f"01632 960{number:03d}" if self.rng.random() < 0.8 else f"07700 900{number:03d}"

    def address(self) -> str:
        rng = self.rng
        street = f"{_invented_word(rng, _PLACE_HEADS, _PLACE_TAILS)} {rng.choice(_STREET_KINDS)}"
        return f"{rng.randint(1, 240)} {street}" if rng.random() < 0.7 else f"Unit {rng.randint(1, 30)}, {street}"

    def languages(self, area: str) -> list[str]:
        rng = self.rng
        spoken = ["english"]
        if area in _WELSH_AREAS and rng.random() < 0.3:
            spoken.append("welsh")
        if area in _GAELIC_AREAS and rng.random() < 0.08:
            spoken.append("scottish_gaelic")
        if rng.random() < 0.14:
            spoken.append(rng.choice(_OTHER_LANGUAGES))
        if rng.random() < 0.02:
            spoken.append("bsl")
        return spoken

    def registration(self, index: int, *, status: str | None = None) -> dict[str, Any]:
        rng = self.rng
        status = status or _STATUSES[bisect_right(_STATUS_CUM, rng.random() * _STATUS_CUM[-1])][0]
        number: str | None = hcpc_number(index)
        if status == "unchecked" and rng.random() < 0.3:
            number = None  # listed without a number: the page asks people to check
        checked = None if status == "unchecked" else SAMPLE_AS_OF - timedelta(days=rng.randint(1, 120))
        return {"number": number, "status": status, "checked_on": checked}

    # ---- the record ------------------------------------------------------------

    def record(self, index: int, profile: _Profile, *, anchor: _Spot | None = None, ms: bool | None = None) -> Record:
        rng = self.rng
        name, gender = self.person()
        main = _pick(rng, profile.specialisms)
        specialisms = [main]
        if main == "musculoskeletal" and rng.random() < 0.35:
            specialisms.append(rng.choice(("sports", "pain_management", "occupational_health", "pelvic_health")))
        elif main == "neurological" and rng.random() < 0.4:
            specialisms.append(rng.choice(("older_people", "vestibular", "respiratory")))
        elif main == "older_people" and rng.random() < 0.3:
            specialisms.append("neurological")
        neurological = "neurological" in specialisms
        if ms is None:
            ms = neurological and rng.random() < (0.9 if profile.name == "charity_neuro" else 0.55)

        conditions: list[str] = []
        for specialism in specialisms:
            conditions += _some(rng, _CONDITIONS[specialism], 2, 4)
        if ms:
            conditions.insert(0, "multiple_sclerosis")
            conditions += [c for c in ("fatigue", "spasticity", "balance_problems") if rng.random() < 0.6]
        treatments = ["exercise_programme"] if rng.random() < 0.85 else []
        for specialism in specialisms:
            treatments += _some(rng, _TREATMENTS[specialism], 2, 4)
        if rng.random() < 0.5:
            treatments.append("home_exercise_plan")
        if rng.random() < 0.3:
            treatments.append("education_advice")

        spot = anchor or self.postcodes.anywhere(rng)
        area = area_of(spot.postcode)
        town = spot.town
        locations, home_visits = self.where(profile, main, spot, town)
        funding, routes, access = self.access(profile, main, specialisms)
        if any(loc["setting"] == "sports_club" for loc in locations) and "sports_club" not in funding:
            funding.append("sports_club")

        memberships = ["mcsp" if rng.random() < 0.97 else "fcsp"] if rng.random() < 0.9 else []
        if profile.sector == "private" and rng.random() < 0.4:
            memberships.append("physio_first")
        for specialism in specialisms:
            code, share = _MEMBERSHIP_FOR.get(specialism, ("", 0.0))
            if code and rng.random() < share:
                memberships.append(code)
        if "acupuncture" in treatments and rng.random() < 0.7:
            memberships.append("aacp")

        practice = self.practice_name(profile, main, town)
        slug = _slug(practice)
        years = rng.randint(2, 32)
        bio = f"{FICTIONAL_NOTE} {name.split()[0]} is a {_ROLE[main]} with {years} years' experience"
        if ms:
            bio += ", including many people living with multiple sclerosis"
        bio += "."
        if home_visits:
            bio += f" Visits people at home within {home_visits['coverage_radius_km']:g} km of {town or spot.postcode}."

        contact_phone = self.phone(spot.postcode)
        private = profile.sector in ("private", "work")
        data: dict[str, Any] = {
            "name": name,
            "practice_name": practice,
            "gender": gender,
            "languages": self.languages(area),
            "memberships": memberships,
            "bio": bio,
            "registration": self.registration(index),
            "specialisms": specialisms,
            "conditions": conditions,
            "treatments": treatments,
            "locations": locations,
            "home_visits": home_visits,
            "funding": funding,
            "referral_routes": routes,
            "phone": contact_phone,
            "email": f"hello@{slug}.example" if private or rng.random() < 0.3 else None,
            "website": f"https://{slug}.example/" if private and rng.random() < 0.85 else None,
            "booking_url": f"https://{slug}.example/book" if private and rng.random() < 0.4 else None,
            "accepting_new_patients": _pick(rng, (("yes", 80), ("no", 12), ("", 8))) or None,
            "provenance": {
                "source": SAMPLE_SOURCE,
                "source_id": f"sample-{index + 1:06d}",
                "last_verified_on": SAMPLE_AS_OF - timedelta(days=rng.randint(0, 200)),
            },
            "is_sample": True,
        }
        if data["accepting_new_patients"] is not None:
            data["accepting_new_patients"] = data["accepting_new_patients"] == "yes"
        data.update(access)
        if profile.sector != "private" or neurological:
            data["referral_email"] = f"referrals@{slug}.example"
            data["referral_phone"] = contact_phone
        return Record.model_validate(data)

    def practice_name(self, profile: _Profile, main: str, town: str) -> str:
        rng = self.rng
        word = _invented_word(rng, _PLACE_HEADS, _PLACE_TAILS)
        if profile.sector == "nhs":
            kind = {
                "neurological": "Community Neurological Rehabilitation",
                "musculoskeletal": "MSK Physiotherapy Service",
                "respiratory": "Pulmonary Rehabilitation",
                "paediatrics": "Children's Physiotherapy",
                "older_people": "Falls and Frailty Team",
                "cardiac": "Cardiac Rehabilitation",
                "pelvic_health": "Pelvic Health Physiotherapy",
            }.get(main, "Physiotherapy Service")
            return f"{word} {kind}"
        if profile.sector == "charity":
            return f"{word} MS Therapy Centre" if rng.random() < 0.6 else f"{word} Neuro Therapy Trust"
        if profile.sector == "work":
            return f"{word} Workplace Health"
        kinds = {
            "neurological": ("Neuro Physio", "Neurological Physiotherapy", "Neuro Rehab"),
            "sports": ("Sports Injury Clinic", "Sports Physio"),
            "pelvic_health": ("Women's Health Physio", "Pelvic Health Clinic"),
            "paediatrics": ("Children's Physio",),
        }.get(main, ("Physiotherapy", "Physio", "Physiotherapy Clinic", "Physio and Pilates"))
        return f"{word} {rng.choice(kinds)}"

    def where(self, profile: _Profile, main: str, spot: _Spot, town: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        rng = self.rng
        word = _invented_word(rng, _PLACE_HEADS, _PLACE_TAILS)
        if profile.sector == "nhs":
            if main == "musculoskeletal":
                setting = _pick(rng, (("hospital", 35), ("community_clinic", 40), ("gp_surgery", 25)))
            elif main in ("respiratory", "cardiac", "amputee", "pelvic_health"):
                setting = _pick(rng, (("hospital", 75), ("community_clinic", 25)))
            else:
                setting = _pick(rng, (("community_clinic", 60), ("hospital", 40)))
        elif profile.sector == "charity":
            setting = "charity_centre"
        elif profile.sector == "work":
            setting = "workplace"
        else:
            setting = "sports_club" if main == "sports" and rng.random() < 0.35 else "private_clinic"
        site = {
            "hospital": f"{word} General Hospital",
            "community_clinic": f"{word} Health Centre",
            "gp_surgery": f"{word} Medical Practice",
            "private_clinic": f"{word} Clinic",
            "charity_centre": f"{word} Therapy Centre",
            "workplace": f"{word} Business Park",
            "sports_club": f"{word} Rugby and Cricket Club",
        }[setting]
        home_only = (profile.name == "private_neuro" and rng.random() < 0.3) or (
            profile.name == "nhs_other" and main == "older_people" and rng.random() < 0.4
        )
        locations: list[dict[str, Any]] = []
        if not home_only:
            locations.append(self.location(setting, site, spot, town))
            if profile.sector == "private" and rng.random() < 0.15:
                other = self.postcodes.near(rng, spot)
                locations.append(
                    self.location("private_clinic", f"{_invented_word(rng, _PLACE_HEADS, _PLACE_TAILS)} Clinic", other, other.town or town)
                )
            if profile.sector in ("private", "charity") and rng.random() < 0.12:
                locations.append({"setting": "online", "name": "Video appointments", "opening_hours": "By appointment"})
        visit_share = {"private_neuro": 0.6, "nhs_neuro": 0.5, "charity_neuro": 0.15, "nhs_other": 0.2}.get(profile.name, 0.1)
        home_visits = None
        if home_only or rng.random() < visit_share:
            home_visits = {
                "base_postcode": spot.postcode,
                "coverage_radius_km": rng.choice((5, 8, 10, 12, 15, 20, 25, 30)),
                "lat": spot.lat,
                "lon": spot.lon,
            }
        return locations, home_visits

    def location(self, setting: str, site: str, spot: _Spot, town: str) -> dict[str, Any]:
        rng = self.rng
        public = setting in ("hospital", "community_clinic", "gp_surgery", "charity_centre")
        hours = {
            "hospital": "Mon-Fri 8:30-16:30",
            "community_clinic": "Mon-Fri 9:00-17:00",
            "gp_surgery": "Mon-Fri 8:00-18:30",
            "charity_centre": "Mon-Fri 9:30-16:00, Sat 10:00-13:00",
            "workplace": "Mon-Fri 8:00-16:00",
            "sports_club": "Tue and Thu 18:00-21:00, Sat 9:00-12:00",
        }.get(setting, rng.choice(("Mon-Fri 8:00-20:00, Sat 9:00-13:00", "Mon-Thu 9:00-19:00", "Mon-Sat 8:00-18:00")))
        wheelchair = (rng.random() < 0.95) if public else _pick(rng, (("yes", 65), ("no", 20), ("", 15))) or None
        if isinstance(wheelchair, str):
            wheelchair = wheelchair == "yes"
        return {
            "name": site,
            "setting": setting,
            "address": self.address(),
            "town": town or None,
            "postcode": spot.postcode,
            "lat": spot.lat,
            "lon": spot.lon,
            "wheelchair_access": wheelchair,
            "parking": rng.random() < 0.7 if rng.random() < 0.9 else None,
            "opening_hours": hours,
            "phone": self.phone(spot.postcode) if rng.random() < 0.3 else None,
        }

    def access(self, profile: _Profile, main: str, specialisms: list[str]) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
        rng = self.rng
        extra: dict[str, Any] = {}
        if profile.sector == "nhs":
            funding = ["nhs"]
            routes: list[dict[str, Any]] = [{"route": "gp"}]
            if main == "musculoskeletal":
                # Many NHS services take self-referrals for joint and back problems only.
                only = [] if rng.random() < 0.3 else ["musculoskeletal"]
                routes.insert(0, {"route": "self_referral", "only_for": only})
                routes.append({"route": "other_professional"})
                extra["referral_notes"] = (
                    "You can refer yourself for back, neck and joint problems. "
                    "For neurological conditions, please ask your GP, MS nurse or consultant to refer you."
                    if only else "You can refer yourself, or ask your GP to refer you."
                )
                extra["nhs_waiting_weeks"] = rng.randint(2, 16)
                if rng.random() < 0.5:
                    extra["session_limit"] = rng.choice((4, 6, 6, 8))
            elif main == "neurological":
                routes += [{"route": "ms_nurse"}, {"route": "neurologist"}, {"route": "consultant"}]
                if rng.random() < 0.5:
                    routes.append({"route": "other_professional"})
                extra["referral_notes"] = (
                    "Referral from a GP, MS nurse, neurologist or consultant. Please include the diagnosis, "
                    "current medication, mobility aids and what the person would like to work on."
                )
                extra["nhs_waiting_weeks"] = rng.randint(4, 26)
                if rng.random() < 0.4:
                    extra["session_limit"] = rng.choice((6, 8, 12))
            else:
                routes += [{"route": "consultant"}, {"route": "other_professional"}]
                if main in ("pelvic_health", "older_people") and rng.random() < 0.5:
                    routes.insert(0, {"route": "self_referral"})
                extra["referral_notes"] = "Referral from a GP or hospital team."
                extra["nhs_waiting_weeks"] = rng.randint(2, 20)
            return funding, routes, extra
        if profile.sector == "charity":
            routes = [{"route": "self_referral"}, {"route": "gp"}, {"route": "ms_nurse"}, {"route": "neurologist"}]
            if rng.random() < 0.5:
                extra["fee_initial_gbp"] = Decimal(rng.choice((10, 15, 20)))
                extra["fee_follow_up_gbp"] = extra["fee_initial_gbp"]
                extra["fees_note"] = "Subsidised sessions; no one is turned away for inability to pay."
            else:
                extra["fees_note"] = "Free for people with MS and other neurological conditions; donations welcome."
            extra["referral_notes"] = "Contact us yourself, or ask your MS nurse or GP to get in touch."
            return ["charity"], routes, extra
        if profile.sector == "work":
            routes = [{"route": "other_professional"}, {"route": "self_referral", "only_for": ["occupational_health", "musculoskeletal"]}]
            extra["referral_notes"] = "For employees of client companies: ask your HR or occupational health team."
            return ["occupational_health"], routes, extra
        # private
        funding = ["private"]
        if rng.random() < 0.6:
            funding.append("insurance")
        if rng.random() < 0.08:
            funding.append("occupational_health")
        routes = [{"route": "self_referral"}, {"route": "gp"}]
        if main == "neurological":
            routes += [{"route": "ms_nurse"}, {"route": "neurologist"}, {"route": "consultant"}]
        elif rng.random() < 0.5:
            routes.append({"route": "consultant"})
        low, high = (65, 110) if main == "neurological" else (45, 95)
        initial = rng.randrange(low, high + 1, 5)
        extra["fee_initial_gbp"] = Decimal(initial)
        extra["fee_follow_up_gbp"] = Decimal(max(30, initial - rng.choice((5, 10, 15))))
        if rng.random() < 0.3:
            extra["fees_note"] = rng.choice(
                (
                    "Home visits cost £20 more.",
                    "Concessions for students and people over 65.",
                    "Concessions for MS Society members.",
                    "Most health insurers recognised.",
                )
            )
        return funding, routes, extra


def _resolve_gazetteer(gazetteer: Gazetteer | str | os.PathLike[str] | None) -> tuple[Gazetteer, bool]:
    """(gazetteer, opened here): None means the configured GAZETTEER_PATH."""
    if isinstance(gazetteer, Gazetteer):
        return gazetteer, False
    if gazetteer is None:
        from finder import config

        return open_gazetteer(str(config.load()["GAZETTEER_PATH"])), True
    return open_gazetteer(gazetteer), True


def _check_count(count: int, seed: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise InvalidValue(f"count must be a whole number from 0 to {MAX_COUNT:,}, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidValue(f"seed must be a whole number, got {seed!r}")


def generate_records(
    count: int, seed: int, *, gazetteer: Gazetteer | str | os.PathLike[str] | None = None
) -> Iterator[Record]:
    """``count`` fictional practitioners, the same for the same seed and gazetteer.

    ``gazetteer`` is an open Gazetteer, a path to one, or None for the configured
    GAZETTEER_PATH; only its postcodes are read (no network). Records are made
    lazily, so 300,000 need not sit in memory at once.
    """
    _check_count(count, seed)
    opened, owned = _resolve_gazetteer(gazetteer)
    try:
        generator = _Generator(seed, _Postcodes(opened))
        profiles = _demo_profiles(generator, count)
        for index in range(count):
            if index < len(profiles):
                profile, anchor, status = profiles[index]
                record = generator.record(index, profile, anchor=anchor, ms=True)
                if status is not None:
                    record.registration = record.registration.model_copy(update=generator.registration(index, status=status))
                yield record
                continue
            profile = _PROFILES[bisect_right(_PROFILE_CUM, generator.rng.random() * _PROFILE_CUM[-1])]
            yield generator.record(index, profile)
    finally:
        if owned:
            opened.close()


def _demo_profiles(generator: _Generator, count: int) -> list[tuple[_Profile, _Spot, str | None]]:
    """A few MS-experienced neurological physios in LS6, so the demo search finds some.

    Only in samples big enough that a handful of planted records does not skew them.
    """
    if count < 20:
        return []
    by_name = {p.name: p for p in _PROFILES}
    plan = [
        ("private_neuro", "registered"),
        ("nhs_neuro", "registered"),
        ("charity_neuro", "registered"),
        ("private_neuro", "registered"),
        ("private_neuro", "unchecked"),
        ("nhs_neuro", "registered"),
    ]
    chosen: list[tuple[_Profile, _Spot, str | None]] = []
    for name, status in plan:
        spot = generator.postcodes.in_outcode(generator.rng, DEMO_OUTCODE)
        if spot is None:
            return []  # a gazetteer built without Leeds
        chosen.append((by_name[name], spot, status))
    return chosen


# ---------------------------------------------------------------------------
# writing the operator CSV


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else f"{value:.6f}".rstrip("0")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _routes(record: Record) -> str:
    return ";".join(
        r.route + (":" + "+".join([*r.only_for, *("!" + c for c in r.not_for)]) if r.is_limited else "")
        for r in record.referral_routes
    )


def csv_rows(record: Record) -> list[dict[str, str]]:
    """One CSV row per location (the first carries the practitioner), as scrapers.csv_import reads them."""
    registration = record.registration
    home = record.home_visits
    first = {
        "source_id": record.provenance.source_id,
        "name": record.name or "",
        "practice_name": _text(record.practice_name),
        "hcpc_number": _text(registration.number),
        "registration_status": registration.status,
        "registration_checked_on": _text(registration.checked_on),
        "gender": _text(record.gender),
        "languages": ";".join(record.languages),
        "memberships": ";".join(record.memberships),
        "bio": _text(record.bio),
        "specialisms": ";".join(record.specialisms),
        "conditions": ";".join(record.conditions),
        "treatments": ";".join(record.treatments),
        "home_visits_postcode": home.base_postcode if home else "",
        "home_visits_radius_km": _text(home.coverage_radius_km) if home else "",
        "funding": ";".join(record.funding),
        "referral_routes": _routes(record),
        "referral_email": _text(record.referral_email),
        "referral_phone": _text(record.referral_phone),
        "referral_notes": _text(record.referral_notes),
        "nhs_waiting_weeks": _text(record.nhs_waiting_weeks),
        "session_limit": _text(record.session_limit),
        "fee_initial_gbp": _text(record.fee_initial_gbp),
        "fee_follow_up_gbp": _text(record.fee_follow_up_gbp),
        "fees_note": _text(record.fees_note),
        "accepting_new_patients": _yes_no(record.accepting_new_patients),
        "phone": _text(record.phone),
        "email": _text(record.email),
        "website": _text(record.website),
        "booking_url": _text(record.booking_url),
        "source_url": _text(record.provenance.source_url),
        "last_verified_on": _text(record.provenance.last_verified_on),
        "is_sample": "yes" if record.is_sample else "",
    }
    rows = []
    for index, location in enumerate(record.locations or [None]):
        row = dict(first) if index == 0 else {"source_id": first["source_id"]}
        if location is not None:
            row.update(
                {
                    "setting": location.setting,
                    "location_name": _text(location.name),
                    "address": _text(location.address),
                    "town": _text(location.town),
                    "postcode": _text(location.postcode),
                    "lat": "" if location.lat is None else f"{location.lat:.6f}",
                    "lon": "" if location.lon is None else f"{location.lon:.6f}",
                    "ods_code": _text(location.ods_code),
                    "wheelchair_access": _yes_no(location.wheelchair_access),
                    "parking": _yes_no(location.parking),
                    "opening_hours": _text(location.opening_hours),
                    "location_phone": _text(location.phone),
                }
            )
        rows.append(row)
    return rows


def write_csv(records: Iterable[Record], path: str | os.PathLike[str]) -> int:
    """Write records in the operator CSV format (scrapers/csv_import.py COLUMNS); returns records written.

    Written to a temporary file and renamed, so an interrupted run leaves no half file.
    """
    from scrapers.csv_import import COLUMN_NAMES

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    written = 0
    try:
        with temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(COLUMN_NAMES), lineterminator="\n", restval="")
            writer.writeheader()
            for record in records:
                writer.writerows(csv_rows(record))
                written += 1
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return written


@dataclass
class SampleReport:
    path: Path
    records: int
    seconds: float

    def summary(self) -> str:
        return (
            f"Wrote {self.records:,} fictional sample practitioners to {self.path} in {self.seconds:.1f} s "
            "(every one marked is_sample; import with `finder ingest csv`)."
        )


def generate_sample_csv(
    count: int, seed: int, out: str | os.PathLike[str], *, gazetteer: Gazetteer | str | os.PathLike[str] | None = None
) -> SampleReport:
    """Generate ``count`` records with ``seed`` and write them to ``out`` (the CLI's body)."""
    _check_count(count, seed)
    started = time.perf_counter()
    written = write_csv(generate_records(count, seed, gazetteer=gazetteer), out)
    return SampleReport(Path(out), written, time.perf_counter() - started)
