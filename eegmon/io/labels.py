"""One label vocabulary (SzCORE / HED-SCORE) for annotations from every source format.

Each reader maps the label it finds with :func:`map_label` and keeps the text as written in
``Annotation.original_label``. Labels that are already in the vocabulary map to themselves;
TUSZ and CHB-MIT/Siena wording map as in :data:`ALIASES`; anything else becomes ``"unknown"``
(never dropped, never guessed into a seizure type).
"""

from __future__ import annotations

import re

#: Seizure and background labels of the SzCORE / HED-SCORE vocabulary.
SEIZURE_LABELS = (
    "sz",
    "sz_foc",
    "sz_foc_a",
    "sz_foc_a_m",
    "sz_foc_a_nm",
    "sz_foc_ia",
    "sz_foc_ia_m",
    "sz_foc_ia_nm",
    "sz_foc_f2b",
    "sz_gen",
    "sz_gen_m",
    "sz_gen_m_tonicClonic",
    "sz_gen_nm",
    "sz_uc",
    "sz_uc_m",
    "sz_uc_nm",
)
#: Non-seizure labels: background and artifacts.
OTHER_LABELS = (
    "bckg",
    "musc",
    "chew",
    "eyem",
    "shiv",
    "elpp",
    "elec",
    "move",
    "line",
    "flat",
    "clip",
    "eyeb",
    "eyer",
    "sway",
    "rhmv",
    "kcmp",
    "vrtx",
    "spnd",
    "arsl",
    "hhyp",
    "artf",
    "unknown",
)
VOCABULARY = SEIZURE_LABELS + OTHER_LABELS

#: Lower-cased source wording -> vocabulary label (TUSZ codes, CHB-MIT, Siena, EDF+ free text).
ALIASES: dict[str, str] = {
    # TUSZ seizure types (Obeid & Picone 2016) onto ILAE 2017 / SzCORE.
    "seiz": "sz",
    "fnsz": "sz_foc",
    "spsz": "sz_foc_a",
    "cpsz": "sz_foc_ia",
    "gnsz": "sz_gen",
    "absz": "sz_gen_nm",
    "tnsz": "sz_gen_m",
    "cnsz": "sz_gen_m",
    "tcsz": "sz_gen_m_tonicClonic",
    "atsz": "sz_gen_m",
    "mysz": "sz_gen_m",
    "nesz": "unknown",
    # TUSZ artifact codes.
    "eyem": "eyem",
    "chew": "chew",
    "shiv": "shiv",
    "musc": "musc",
    "elpp": "elpp",
    "elec": "elec",
    "eyem_chew": "artf",
    "eyem_musc": "artf",
    "musc_elec": "artf",
    "eyem_elec": "artf",
    "chew_musc": "artf",
    "chew_elec": "artf",
    "eyem_shiv": "artf",
    "shiv_elec": "artf",
    "artf": "artf",
    "null": "unknown",
    # Free text seen in CHB-MIT / Siena / EDF+ annotations.
    "seizure": "sz",
    "seizure start": "sz",
    "sz": "sz",
    "ictal": "sz",
    "background": "bckg",
    "bckg": "bckg",
    "artifact": "artf",
    "artefact": "artf",
}
_VOCAB_LOWER = {v.lower(): v for v in VOCABULARY}
_SEIZURE_WORDS = re.compile(r"^(seizure|crise|sz)\b", re.IGNORECASE)


def map_label(text: str) -> str:
    """Map a source label onto the vocabulary.

    Parameters
    ----------
    text : str
        The label as written in the source file.

    Returns
    -------
    str
        A label from :data:`VOCABULARY`; ``"unknown"`` when the text is not recognised.

    Examples
    --------
    >>> map_label("cpsz"), map_label("Seizure"), map_label("sz_foc_ia"), map_label("Lights off")
    ('sz_foc_ia', 'sz', 'sz_foc_ia', 'unknown')
    """
    key = text.strip().lower()
    if key in _VOCAB_LOWER:
        return _VOCAB_LOWER[key]
    if key in ALIASES:
        return ALIASES[key]
    if _SEIZURE_WORDS.match(key):
        return "sz"
    return "unknown"


def is_seizure_label(label: str) -> bool:
    """True for ``sz`` and its subtypes."""
    return label == "sz" or label.startswith("sz_")
