"""The controlled vocabulary of alerts (shared/domain/REFERENCE.md, section 1)."""

from __future__ import annotations

from enum import StrEnum


class Profile(StrEnum):
    """What kind of human rights work puts the defender at risk."""

    JOURNALIST = "journalist"
    LAWYER = "lawyer"
    ENVIRONMENTAL = "environmental"
    LAND = "land"
    INDIGENOUS = "indigenous"
    ANTI_CORRUPTION = "anti_corruption"
    WOMAN = "woman"
    LGBTI = "lgbti"
    TRADE_UNIONIST = "trade_unionist"
    STUDENT = "student"
    ACADEMIC = "academic"
    RELIGIOUS_MINORITY = "religious_minority"
    DISABILITY = "disability"
    MIGRANT = "migrant"
    MINORITY = "minority"
    OTHER = "other"


class Threat(StrEnum):
    """Violation types, after Front Line Defenders' appeals and the HURIDOCS micro-thesauri."""

    KILLING = "killing"
    ATTEMPTED_KILLING = "attempted_killing"
    DEATH_THREAT = "death_threat"
    PHYSICAL_ATTACK = "physical_attack"
    ARBITRARY_DETENTION = "arbitrary_detention"
    ENFORCED_DISAPPEARANCE = "enforced_disappearance"
    ABDUCTION = "abduction"
    TORTURE = "torture"
    SEXUAL_VIOLENCE = "sexual_violence"
    JUDICIAL_HARASSMENT = "judicial_harassment"
    COUNTER_TERRORISM_CHARGES = "counter_terrorism_charges"
    TRAVEL_BAN = "travel_ban"
    RAID = "raid"
    SURVEILLANCE = "surveillance"
    SMEAR_CAMPAIGN = "smear_campaign"
    ONLINE_HARASSMENT = "online_harassment"
    PROTEST_CRACKDOWN = "protest_crackdown"
    REPRISAL_FOR_COOPERATION = "reprisal_for_cooperation"
    OTHER = "other"


class Severity(StrEnum):
    """How fast the team must move; ordered from most to least urgent."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"


class Perpetrator(StrEnum):
    """Who is behind the attack, as far as is known."""

    STATE = "state"
    NON_STATE = "non_state"
    UNKNOWN = "unknown"


# A threat to life or personal integrity drives "critical" severity and precautionary measures.
# Incommunicado detention belongs here too, but an alert cannot say "incommunicado" yet.
LIFE_OR_INTEGRITY_THREATS: frozenset[Threat] = frozenset(
    {
        Threat.KILLING,
        Threat.ATTEMPTED_KILLING,
        Threat.DEATH_THREAT,
        Threat.PHYSICAL_ATTACK,
        Threat.ENFORCED_DISAPPEARANCE,
        Threat.ABDUCTION,
        Threat.TORTURE,
        Threat.SEXUAL_VIOLENCE,
    }
)

# Liberty and legal jeopardy: serious, but not (yet) a threat to life.
HIGH_SEVERITY_THREATS: frozenset[Threat] = frozenset(
    {
        Threat.ARBITRARY_DETENTION,
        Threat.JUDICIAL_HARASSMENT,
        Threat.COUNTER_TERRORISM_CHARGES,
        Threat.RAID,
        Threat.TRAVEL_BAN,
    }
)


def derive_severity(threats: frozenset[Threat] | set[Threat]) -> Severity:
    """The severity an alert gets when the responder did not set one."""
    if threats & LIFE_OR_INTEGRITY_THREATS:
        return Severity.CRITICAL
    if threats & HIGH_SEVERITY_THREATS:
        return Severity.HIGH
    return Severity.MEDIUM
