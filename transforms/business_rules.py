"""Business-rule types: what rules.yaml may say, validated. Pure (pydantic only), so transforms can import them; the file
is read by influence_pipeline.rules_file."""
from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Engagement(_Strict):
    target_min: float
    target_max: float
    window_days: int
    last_n_posts: int
    shrink_prior_posts: float
    anomaly_z: float
    anomaly_min_change: float
    anomaly_min_history_days: int
    anomaly_window_days: int
    er_collapse_ratio: float
    metrics_tracked_days: int


class PositionBased(_Strict):
    first: float
    middle: float
    last: float


class Attribution(_Strict):
    lookback_days: int
    session_timeout_minutes: int
    precedence: Literal["code_first", "links_only", "code_only"]
    path_transform: Literal["collapse", "none", "unique"]
    direct_never_last_touch: bool
    position_based: PositionBased
    time_decay_half_life_days: float
    restate_days: int
    shapley_max_channels: int
    own_hosts: str
    influencer_mediums: list[str]
    paid_search_mediums: list[str]
    email_mediums: list[str]
    social_mediums: list[str]
    search_hosts: str
    social_hosts: str


class Calendar(_Strict):
    first_year: int
    last_year: int


class LateData(_Strict):
    restate_days: int


class FullSnapshots(_Strict):
    min_ratio: float = Field(ge=0, le=1)  # 0 turns the check off


class PlausibleTime(_Strict):
    earliest: date  # a date or timestamp before it is quarantined (year 0001 became 1 BC and a first order)
    latest_days_after_landing: int = Field(ge=0)  # for fields whose contract sets no maxDaysAfterLanding


class Lake(_Strict):
    keep_nights: int


# A keyword: `word`, `two words` (a phrase of up to 4 words; as a hashtag glued: #twowords), `stem*` (any word or
# hashtag starting with it) or `#tag` (only as a hashtag). Lower case and without accents, as captions are folded.
_TERM = re.compile(r"^(?:#?[^\W_]+|[^\W_]+(?: [^\W_]+)+|[^\W_]+\*)$")
# A synonym key is a roster label as it reads once normalised: lower case, no accents, hyphens and apostrophes joined,
# "&", "and", "/" and other punctuation dropped ("How-to & Style" → "howto style").
_LABEL = re.compile(r"^[^\W_]+(?: [^\W_]+)*$")


def _is_folded(text: str) -> bool:
    return text == text.lower() and not any(unicodedata.combining(c) for c in unicodedata.normalize("NFKD", text))


class NicheKeywords(_Strict):
    strong: list[str]  # specific: one of them is enough for a post to point to the niche
    weak: list[str]  # generic: a post needs two distinct ones, or one with a strong term


class Niches(_Strict):
    window_days: int = Field(ge=1)
    min_posts: int = Field(ge=1)
    switch_ratio: float = Field(ge=1)
    broad: list[str]
    keywords: dict[str, NicheKeywords]
    neutral: list[str]
    synonyms: dict[str, str | None]

    @model_validator(mode="after")
    def _consistent(self) -> "Niches":
        owner: dict[str, str] = {}
        listed = [(niche, t) for niche, k in self.keywords.items() for t in [*k.strong, *k.weak]]
        for niche, term in [*listed, *(("neutral", t) for t in self.neutral)]:
            if not _TERM.match(term) or not _is_folded(term) or len(term.split()) > 4:
                raise ValueError(f"niches: keyword {term!r} ({niche}) is not a lower-case word, phrase (of up "
                                 "to 4 words), stem* or #tag without accents")
            glued = term.strip("#*").replace(" ", "")
            if glued in owner:
                raise ValueError(f"niches: keyword {term!r} ({niche}) is also listed under {owner[glued]}")
            owner[glued] = niche
        unknown = sorted({*self.broad, *(v for v in self.synonyms.values() if v is not None)} - set(self.keywords))
        if unknown:
            raise ValueError(f"niches: broad or synonyms name niches without keywords: {unknown}")
        bad = sorted(k for k in self.synonyms if not _LABEL.match(k) or not _is_folded(k) or "and" in k.split())
        if bad:
            raise ValueError(f"niches: synonym keys must be normalised labels (lower case, words only): {bad}")
        return self


class Rules(_Strict):
    reporting_currency: str
    late_data: LateData
    full_snapshots: FullSnapshots
    plausible_time: PlausibleTime
    lake: Lake
    calendar: Calendar
    currency_rates: dict[str, float]
    tiers: dict[str, int]
    engagement: Engagement
    attribution: Attribution
    emv: dict[str, dict[str, float]]
    niches: Niches
