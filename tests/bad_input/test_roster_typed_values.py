"""Roster values typed by people: localised and abbreviated follower counts, countries by name, non-ASCII names,
placeholders. Informational columns (`onInvalid: "null"` in the raw contracts) keep their row: a bad value is set to
null, reported as a failed warning rule with its count and named (file, line, field) in the run log. A bad key still
quarantines the row."""
import logging
from datetime import date
from pathlib import Path

import polars as pl

from influence_pipeline.schemas.checkpoint import validate_run
from influence_pipeline.schemas.polars_engine import evaluate
from influence_pipeline.transforms.audit import SourceOutcome, build_run_sources
from influence_pipeline.transforms.quarantine import check_batch, nulled_messages
from tests.bad_input.helpers import (
    CONTRACTS,
    DS,
    FIXTURE_DATE,
    _file,
    _only_row,
    _rel,
    _row_numbers,
    _split_one,
    _stage,
    row_rules,
)

NBSP, NNBSP = "\u00a0", "\u202f"
COUNT = "a count (950, 12,345, 1.234.567, 12.5K, 1,2M)"
ACCOUNTS = (  # an export as people leave it: lines 2-13
    "influencer_id,platform,platform_account_id,handle,niche,followers\n"
    'INF-0001,Instagram,17841400000000001,@GlowByJane,Beauty ,"12,5K"\n'
    "INF-0001,TikTok,glowbyjane,@glowbyjane,beauty,1.234.567\n"
    "INF-0002,YT,UCmarcofit00000000000001,@MarcoFit,Fitness,N/A\n"
    f"INF-0003,IG,17841400000000003,@anaeats,comida & recetas,1{NBSP}234{NNBSP}567\n"
    'INF-0004,instagram,17841400000000004,@Zoë.Kraków,Beauty,"1,2M"\n'
    "INF-0005,tiktok,müllerfit,@MüllerFit,Fitness,12.5k+\n"
    "INF-0006,IG,17841400000000006,@søren,travel,1'234'567\n"
    'INF-0007,youtube,UCchef0000000000000000001,@chef,food,"1,234K"\n'
    "INF-0008,IG,17841400000000008,@techie,tech,\u2014\n"
    "INF-0009,IG,17841400000000009,@quiet,tech,\n"
    "inf-0010,Facebook,123,@elsewhere,tech,12K\n"
    "INF-0011,IG,,@noid,tech,N/A\n"
)
INFLUENCERS = (  # lines 2-8
    "influencer_id,full_name,email,country,signed_on\n"
    "INF-0001,Zoë Kraków,zoe@example.com,United States,2026-09-01\n"
    "INF-0002,José Müller,jose@example.com,Brasil,2026-10-15\n"
    "INF-0003,Søren Ødegård,soren@example.com,uk,2026-10-01\n"
    "INF-0004,李小龙,li@example.com,DEU,2026-10-01\n"
    "INF-0005,Ana Eats,ana@example.org,Narnia,not-a-date\n"
    "INF-0006,Ayşe Yılmaz,ayse@example.com,Türkiye,2026-10-01\n"
    ",No Id,noid@example.com,US,2026-10-01\n"
)


def _split_text(landing: Path, name: str, text: str):
    path = _file(landing, name)
    path.write_text(text, encoding="utf-8")
    return _split_one(path, name)


def test_follower_counts_typed_every_local_way_stage_to_their_value(landing):
    _, split = _split_text(landing, "roster_social_accounts", ACCOUNTS)
    staged = _stage({"roster_social_accounts": split}, "stg_social_accounts")
    assert dict(zip(staged["account_id"], staged["declared_followers"])) == {
        "instagram:17841400000000001": 12_500,  # "12,5K": was 125 000
        "tiktok:glowbyjane": 1_234_567,  # "1.234.567": was quarantined
        "youtube:UCmarcofit00000000000001": None,  # "N/A": kept, followers unknown
        "instagram:17841400000000003": 1_234_567,  # no-break and narrow no-break spaces
        "instagram:17841400000000004": 1_200_000,  # "1,2M": was 12 000 000
        "tiktok:müllerfit": 12_500,  # "12.5k+"
        "instagram:17841400000000006": 1_234_567,  # "1'234'567"
        "youtube:UCchef0000000000000000001": None,  # "1,234K": 1.234K or 1234K, not guessed
        "instagram:17841400000000008": None,  # "—"
        "instagram:17841400000000009": None,  # blank
    }
    assert staged.filter(pl.col("account_id") == "instagram:17841400000000004")["handle"].to_list() == ["zoë.kraków"]
    assert staged.filter(pl.col("account_id") == "instagram:17841400000000003")["niche"].to_list() == [
        "comida & recetas"]


def test_an_unreadable_follower_count_is_nulled_with_a_warning_and_the_row_kept(landing):
    _, split = _split_text(landing, "roster_social_accounts", ACCOUNTS)
    rule = "roster_social_accounts.followers.type"
    # Lines 4 (N/A), 9 (1,234K), 10 (—), and 13, quarantined for its key: the rule counts every row breaking it, as
    # GX does; only the rows kept have a value nulled. A blank is no value, not a bad one.
    assert split.rule_counts[rule] == 4
    assert 4 in _row_numbers(split.clean) and 4 not in _row_numbers(split.quarantined)
    assert _only_row(split.clean, 4)["followers"] is None
    assert split.nulled.select("_row_number", "field", "value", "failed_rules").rows() == [
        (4, "followers", "N/A", rule), (9, "followers", "1,234K", rule), (10, "followers", "\u2014", rule)]
    row = _only_row(split.nulled, 4)
    assert row["_source_file"] == _rel("roster_social_accounts")
    assert row["reason"] == f'followers "N/A" is not {COUNT}'
    assert nulled_messages("roster_social_accounts", split.nulled)[0] == (
        f'roster_social_accounts: roster/{FIXTURE_DATE}/social_accounts.csv line 4: followers "N/A" is not {COUNT}; '
        f"followers set to null, row kept ({rule})")
    staged = _stage({"roster_social_accounts": split}, "stg_social_accounts")
    assert _only_row(staged, 4)["declared_followers"] is None and _only_row(staged, 4)["platform"] == "youtube"


def test_a_bad_key_still_quarantines_the_row_and_rows_add_up(landing):
    raw, split = _split_text(landing, "roster_social_accounts", ACCOUNTS)
    assert _row_numbers(split.quarantined) == [12, 13]
    assert _only_row(split.quarantined, 12)["rule_id"] == "roster_social_accounts.platform.pattern"
    quarantined = _only_row(split.quarantined, 13)
    assert quarantined["failed_rules"] == "roster_social_accounts.platform_account_id.required"
    assert quarantined["followers"] == "N/A"  # kept as delivered, and not listed as nulled: the row is not published
    assert 13 not in split.nulled["_row_number"].to_list()
    assert split.clean.height + split.quarantined.height == raw.height == 12
    audit = build_run_sources("run", DS, [SourceOutcome(
        "roster_social_accounts", _rel("roster_social_accounts"), "loaded", raw.height, split.clean.height,
        split.quarantined.height, 3, 0, 0.0, 0.0)], None, None, run_failed=False)
    assert audit.select("rows_in", "rows_published", "rows_quarantined", "status").row(0) == (12, 10, 2, "warning")


def test_countries_and_dates_typed_by_people_keep_the_influencer(landing):
    _, split = _split_text(landing, "roster_influencers", INFLUENCERS)
    assert _row_numbers(split.quarantined) == [8]
    assert _only_row(split.quarantined, 8)["rule_id"] == "roster_influencers.influencer_id.required"
    assert split.nulled.select("_row_number", "field", "value", "reason").rows() == [
        (6, "country", "Narnia", 'country "Narnia" is not a country (ISO 3166-1 code or name: US, GBR, United '
                                 'Kingdom, Deutschland)'),
        (6, "signed_on", "not-a-date", 'signed_on "not-a-date" is not a date')]
    assert split.rule_counts["roster_influencers.country.type"] == 1
    staged = _stage({"roster_influencers": split}, "stg_influencers")
    assert staged.select("influencer_id", "full_name", "country_code", "signed_date").rows() == [
        ("INF-0001", "Zoë Kraków", "US", date(2026, 9, 1)),
        ("INF-0002", "José Müller", "BR", date(2026, 10, 15)),
        ("INF-0003", "Søren Ødegård", "GB", date(2026, 10, 1)),
        ("INF-0004", "李小龙", "DE", date(2026, 10, 1)),
        ("INF-0005", "Ana Eats", None, None),
        ("INF-0006", "Ayşe Yılmaz", "TR", date(2026, 10, 1)),
    ]


def test_a_nul_in_an_informational_text_nulls_the_value_not_the_row(landing):
    text = ACCOUNTS.replace("@GlowByJane", "@Glow\x00ByJane")
    _, split = _split_text(landing, "roster_social_accounts", text)
    assert 2 in _row_numbers(split.clean) and _only_row(split.clean, 2)["handle"] is None
    row = _only_row(split.nulled, 2)
    assert (row["field"], row["value"], row["failed_rules"]) == (
        "handle", "@Glow\\x00ByJane", "roster_social_accounts.handle.nul")
    assert not split.clean["handle"].str.contains("\x00", literal=True).any()


def test_nulled_values_are_failed_warnings_in_the_results_and_named_in_the_run_log(landing, tmp_path, caplog):
    raw, _ = _split_text(landing, "roster_social_accounts", ACCOUNTS)
    contract = CONTRACTS["roster_social_accounts"]
    check = check_batch(raw, contract, row_rules(contract, DS, {}))
    with caplog.at_level(logging.WARNING, logger="influence_pipeline.schemas.checkpoint"):
        run = validate_run(tmp_path / "validation", DS, "run", {"roster_social_accounts": check}, {})
    result = next(r for r in run.results if r.rule_id == "roster_social_accounts.followers.type")
    assert (result.success, result.severity, result.unexpected_count) == (False, "warning", 4)
    assert "informational column" in result.description
    assert not run.errors  # a warning: the run publishes
    assert evaluate(check.frame, check.rules)[check.rules.index(next(
        r for r in check.rules if r.id == result.rule_id))]["unexpected_count"] == 4  # same count, same rule
    gx = validate_run(tmp_path / "gx", DS, "run", {"roster_social_accounts": check}, {}, engine="gx")
    assert [(r.rule_id, r.success, r.unexpected_count) for r in gx.results] == [
        (r.rule_id, r.success, r.unexpected_count) for r in run.results]  # GX's own engine counts the same
    logged = [r.getMessage() for r in caplog.records]
    assert any(f"roster/{FIXTURE_DATE}/social_accounts.csv line 9: followers \"1,234K\" is not" in m
               and "followers set to null, row kept" in m for m in logged), logged


def test_inside_a_run_the_warnings_go_to_the_run_log(prefect_harness, landing):
    from prefect import flow

    from influence_pipeline.schemas.checkpoint import log_nulled_values

    raw, _ = _split_text(landing, "roster_social_accounts", ACCOUNTS)
    contract = CONTRACTS["roster_social_accounts"]
    check = check_batch(raw, contract, row_rules(contract, DS, {}))
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    @flow(name="nulled-values-log")
    def run() -> int:
        return log_nulled_values({"roster_social_accounts": check})

    handler = Keep(level=logging.WARNING)
    logging.getLogger("prefect").addHandler(handler)
    try:
        assert run() == 3
    finally:
        logging.getLogger("prefect").removeHandler(handler)
    mine = [r for r in records if "set to null" in r.getMessage()]
    assert [r.getMessage().split(": followers")[0] for r in mine] == [
        f"roster_social_accounts: roster/{FIXTURE_DATE}/social_accounts.csv line {n}" for n in (4, 9, 10)]
    assert all(r.name == "prefect.flow_runs" and getattr(r, "flow_run_id", None) for r in mine)  # the run's own log
