"""Closed vocabularies: the one place each allowed value and its label is defined.

Every source maps into these codes; the importer rejects anything else with a
message naming the allowed values; pages show the labels; the API publishes the
whole set at ``/api/v1/vocabularies``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from finder.errors import InvalidValue


def _key(text: str) -> str:
    """Loose comparison key: case, spaces, hyphens and apostrophes do not matter."""
    return re.sub(r"[\s\-_'’]+", "_", text.strip().lower()).strip("_")


@dataclass(frozen=True)
class Vocabulary:
    """A closed list of codes, each with a human label (and optional help text)."""

    name: str
    label: str
    terms: dict[str, str]
    help: dict[str, str] = field(default_factory=dict)
    _lookup: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for code, label in self.terms.items():
            self._lookup[_key(code)] = code
            self._lookup.setdefault(_key(label), code)

    def __contains__(self, code: object) -> bool:
        return code in self.terms

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def label_of(self, code: str) -> str:
        return self.terms.get(code, code)

    def allowed(self) -> str:
        return ", ".join(self.terms)

    def check(self, value: str) -> str:
        """Return the code for ``value`` (a code or a label, loosely matched) or raise."""
        if not isinstance(value, str):
            raise InvalidValue(f"expected text, one of: {self.allowed()}")
        code = self._lookup.get(_key(value))
        if code is None:
            shown = value.strip()
            if len(shown) > 60:
                shown = shown[:57] + "..."
            raise InvalidValue(f"'{shown}' is not one of: {self.allowed()}")
        return code

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "values": [
                {"code": code, "label": label, **({"help": self.help[code]} if code in self.help else {})}
                for code, label in self.terms.items()
            ],
        }


#: Words read as yes / no, in import files and in query strings (HTML checkboxes send "on").
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f"})


REGISTRATION_STATUSES = Vocabulary(
    "registration_status",
    "HCPC registration status",
    {
        "registered": "Registered with the HCPC",
        "conditions_of_practice": "Registered, with conditions of practice",
        "suspended": "Suspended",
        "lapsed": "Registration lapsed",
        "removed": "Removed from the register",
        "not_found": "Not found on the HCPC register",
        "unchecked": "Not yet checked",
    },
    help={
        "conditions_of_practice": "May practise, subject to conditions set by the HCPC.",
        "suspended": "May not practise while suspended.",
        "unchecked": "We have not checked this registration yet; check it yourself on the HCPC register.",
    },
)

#: Statuses under which a person may legally practise as a physiotherapist.
#: The one rule behind every "registered" badge and the registered-only filter.
PRACTISING_STATUSES = frozenset({"registered", "conditions_of_practice"})

SPECIALISMS = Vocabulary(
    "specialism",
    "Specialism",
    {
        "neurological": "Neurological (MS, stroke, Parkinson's)",
        "musculoskeletal": "Musculoskeletal (joints, back, muscles)",
        "sports": "Sports injuries",
        "paediatrics": "Children (paediatrics)",
        "respiratory": "Respiratory (breathing)",
        "pelvic_health": "Pelvic health",
        "older_people": "Older people and falls",
        "vestibular": "Dizziness and balance (vestibular)",
        "amputee": "Amputee rehabilitation",
        "cardiac": "Cardiac rehabilitation",
        "pain_management": "Persistent pain management",
        "occupational_health": "Occupational health",
    },
)

CONDITIONS = Vocabulary(
    "condition",
    "Condition",
    {
        "multiple_sclerosis": "Multiple sclerosis (MS)",
        "stroke": "Stroke",
        "parkinsons": "Parkinson's",
        "motor_neurone_disease": "Motor neurone disease",
        "brain_injury": "Acquired brain injury",
        "spinal_cord_injury": "Spinal cord injury",
        "cerebral_palsy": "Cerebral palsy",
        "functional_neurological_disorder": "Functional neurological disorder",
        "spasticity": "Spasticity",
        "fatigue": "Fatigue",
        "balance_problems": "Balance problems",
        "falls": "Falls",
        "dizziness": "Dizziness and vertigo",
        "back_pain": "Back pain",
        "neck_pain": "Neck pain",
        "whiplash": "Whiplash",
        "headache": "Headache",
        "shoulder_pain": "Shoulder pain",
        "knee_pain": "Knee pain",
        "arthritis": "Arthritis",
        "osteoporosis": "Osteoporosis",
        "sports_injury": "Sports injury",
        "post_operative_rehab": "Rehabilitation after surgery",
        "chronic_pain": "Persistent (chronic) pain",
        "fibromyalgia": "Fibromyalgia",
        "copd": "COPD",
        "long_covid": "Long COVID",
        "continence": "Continence problems",
        "pregnancy_related": "Pregnancy-related pain",
        "amputation": "Amputation",
        "heart_conditions": "Heart conditions",
        "work_related_injury": "Work-related injury",
        "developmental_delay": "Developmental delay (children)",
    },
)

TREATMENTS = Vocabulary(
    "treatment",
    "Treatment",
    {
        "exercise_programme": "Exercise programmes",
        "home_exercise_plan": "Home exercise plans",
        "manual_therapy": "Manual therapy",
        "massage": "Massage",
        "manipulation": "Manipulation",
        "ultrasound": "Ultrasound therapy",
        "heat_cold_therapy": "Heat and cold therapy",
        "tens": "TENS (transcutaneous electrical nerve stimulation)",
        "fes": "FES (functional electrical stimulation)",
        "hydrotherapy": "Hydrotherapy (aquatic therapy)",
        "acupuncture": "Acupuncture",
        "education_advice": "Education and advice (posture, lifting, activity)",
        "gait_training": "Walking (gait) training",
        "balance_training": "Balance training",
        "spasticity_management": "Spasticity management and stretching",
        "fatigue_management": "Fatigue management",
        "vestibular_rehabilitation": "Vestibular rehabilitation",
        "breathing_techniques": "Breathing techniques",
        "pilates": "Clinical Pilates",
        "falls_prevention": "Falls prevention",
        "mobility_aids": "Walking aids and equipment advice",
        "orthotics": "Orthotics and splinting",
    },
)

SETTINGS = Vocabulary(
    "setting",
    "Setting",
    {
        "hospital": "Hospital",
        "community_clinic": "Community clinic",
        "gp_surgery": "GP surgery",
        "private_clinic": "Private clinic",
        "charity_centre": "Charity centre (e.g. MS Therapy Centre)",
        "workplace": "Workplace",
        "sports_club": "Sports club",
        "online": "Online (video)",
    },
)

FUNDING = Vocabulary(
    "funding",
    "Funding",
    {
        "nhs": "NHS (free to you)",
        "private": "Private (you pay)",
        "charity": "Charity (free or low cost)",
        "occupational_health": "Through your employer",
        "sports_club": "Through a sports club",
        "insurance": "Health insurance",
    },
)

REFERRAL_ROUTES = Vocabulary(
    "referral_route",
    "Referral route",
    {
        "self_referral": "You can refer yourself",
        "gp": "GP referral",
        "ms_nurse": "MS nurse referral",
        "neurologist": "Neurologist referral",
        "consultant": "Consultant referral",
        "other_professional": "Other health professional",
    },
)

MEMBERSHIPS = Vocabulary(
    "membership",
    "Professional membership",
    {
        "mcsp": "MCSP: Member of the Chartered Society of Physiotherapy",
        "fcsp": "FCSP: Fellow of the Chartered Society of Physiotherapy",
        "physio_first": "Physio First",
        "acpin": "ACPIN: Association of Chartered Physiotherapists in Neurology",
        "aacp": "AACP: Acupuncture Association of Chartered Physiotherapists",
        "acpsem": "ACPSEM: sports and exercise medicine",
        "pogp": "POGP: pelvic, obstetric and gynaecological physiotherapy",
        "acprc": "ACPRC: respiratory care",
        "apcp": "APCP: paediatric physiotherapy",
        "agile": "AGILE: physiotherapy for older people",
    },
)

GENDERS = Vocabulary(
    "gender",
    "Gender",
    {
        "female": "Female",
        "male": "Male",
        "non_binary": "Non-binary",
    },
)

LANGUAGES = Vocabulary(
    "language",
    "Language",
    {
        "english": "English",
        "welsh": "Welsh (Cymraeg)",
        "scottish_gaelic": "Scottish Gaelic",
        "irish": "Irish",
        "bsl": "British Sign Language",
        "arabic": "Arabic",
        "bengali": "Bengali",
        "cantonese": "Cantonese",
        "mandarin": "Mandarin",
        "french": "French",
        "german": "German",
        "greek": "Greek",
        "gujarati": "Gujarati",
        "hindi": "Hindi",
        "italian": "Italian",
        "kurdish": "Kurdish",
        "lithuanian": "Lithuanian",
        "malayalam": "Malayalam",
        "persian": "Persian (Farsi)",
        "polish": "Polish",
        "portuguese": "Portuguese",
        "punjabi": "Punjabi",
        "romanian": "Romanian",
        "russian": "Russian",
        "somali": "Somali",
        "spanish": "Spanish",
        "tamil": "Tamil",
        "turkish": "Turkish",
        "ukrainian": "Ukrainian",
        "urdu": "Urdu",
    },
)

#: Every vocabulary, keyed by the name used in filters, CSV guides and the API.
VOCABULARIES: dict[str, Vocabulary] = {
    v.name: v
    for v in (
        SPECIALISMS,
        CONDITIONS,
        TREATMENTS,
        SETTINGS,
        FUNDING,
        REFERRAL_ROUTES,
        MEMBERSHIPS,
        REGISTRATION_STATUSES,
        GENDERS,
        LANGUAGES,
    )
}
