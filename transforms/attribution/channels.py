"""mart_channel_attribution: conversions and revenue credited per channel (and per influencer × campaign) per month,
under the rule-based models and the data-driven ones (exact Markov removal effects, exact Shapley values)."""
from __future__ import annotations

from datetime import date
from typing import NamedTuple

import polars as pl

from influence_pipeline.transforms.attribution.journeys import credited_to
from influence_pipeline.transforms.attribution.markov import markov_removal_effects
from influence_pipeline.transforms.attribution.shapley import shapley_values
from influence_pipeline.transforms.numeric import stable_sum
from influence_pipeline.transforms.staging.common import MONEY

LEVELS = {"channel": pl.col("channel").fill_null("none"),
          "influencer_campaign": credited_to(pl.col("channel"), pl.col("influencer_id"), pl.col("campaign_id"))}
_OUT = ["level", "credited_to", "model", "conversions", "revenue", "removal_effect", "month_start_date"]


def _path_frame(converting: pl.LazyFrame, nonconverting: pl.LazyFrame, column: str) -> pl.DataFrame:
    """Converting paths (one per conversion, valued at its net revenue) and non-converting ones (counted browsers)
    → the path-aggregate frame the data-driven models take, one row per distinct path (sorted)."""
    # Aggregated by the path string before splitting it: a month has millions of journeys but tens of thousands of
    # distinct paths. Revenue is summed in exact decimals, so the order rows arrive in cannot move a cent.
    conv = converting.filter(pl.col(column).is_not_null()).group_by(path=pl.col(column)).agg(
        conversions=pl.len().cast(pl.Float64), value=pl.col("net_revenue").sum(), nulls=pl.lit(0.0))
    null = nonconverting.group_by(path=pl.col(column)).agg(
        conversions=pl.lit(0.0), value=pl.lit(0, dtype=MONEY), nulls=pl.col("browsers").sum().cast(pl.Float64))
    return (pl.concat([conv, null], how="vertical_relaxed").group_by("path")
            .agg(pl.col("conversions", "nulls").sum(), pl.col("value").sum().cast(pl.Float64))
            .sort("path").select(pl.col("path").str.split(" > "), "conversions", "value", "nulls").collect())


# A browser is keyed by a 64-bit hash of its id: sorting 20 M integers is cheap, and a dense rank of the strings
# (the exact key) cost more than the rest of the count together. A second, independent hash travels with each visit;
# two browsers sharing the first hash (odds ~1e-5 in a profile-L month) show as one key with two second hashes, and
# the month is counted again on the exact key.
_HASHED = pl.col("anonymous_id").hash(seed=0)
_EXACT = pl.col("anonymous_id").rank("dense")


_STEP = ("channel", "influencer_id", "campaign_id")


class _Steps(NamedTuple):
    """How a visit's (channel, influencer_id, campaign_id) is packed into one integer `step`: each column's codes
    (`code` → `text`, null at the last code) and how many codes each has."""
    codes: dict[str, pl.DataFrame]
    sizes: tuple[int, int, int]


def _keyed(visits: pl.LazyFrame, browser: pl.Expr, with_visit_id: bool) -> tuple[pl.DataFrame, _Steps]:
    """Per visit: its browser key, a check hash of its browser, its start, whether it converted, and its `step`, one
    integer standing for its channel, influencer and campaign; and how to read the steps back (`_step_texts`)."""
    # Each column is coded on categories of its own (codes from 0) and the three codes are packed into one integer:
    # a touch text built per visit and cast to a category was two thirds of reading and keying a month.
    coded = visits.select(
        browser=browser, check=pl.col("anonymous_id").hash(seed=1), at="visit_started_at",
        *(["visit_id"] if with_visit_id else []), converted=pl.col("has_signup") | pl.col("has_checkout"),
        *[pl.col(column).cast(pl.Categorical(pl.Categories.random())) for column in _STEP],
    ).collect()
    codes, sizes = {}, []
    for column in _STEP:
        distinct = coded[column].unique()  # not every row back to text
        largest = distinct.to_physical().max()
        size = 1 if largest is None else largest + 2  # null takes the code after the largest
        codes[column] = pl.DataFrame({"code": distinct.to_physical().cast(pl.UInt64).fill_null(size - 1),
                                      "text": distinct.cast(pl.String)})
        sizes.append(size)
    if sizes[0] * sizes[1] * sizes[2] >= 2**64:
        raise ValueError(f"a month of visits with {sizes} distinct channels, influencers and campaigns: too many to pack")
    code = [pl.col(c).to_physical().cast(pl.UInt64).fill_null(n - 1) for c, n in zip(_STEP, sizes)]
    step = (code[0] * sizes[1] + code[1]) * sizes[2] + code[2]
    return coded.with_columns(step=step).drop(*_STEP), _Steps(codes, (sizes[0], sizes[1], sizes[2]))


def _step_texts(steps: pl.Series, coding: _Steps) -> pl.DataFrame:
    """Distinct step integers → `step` with the `channel` and `touch` texts it stands for (LEVELS)."""
    _, influencers, campaigns = coding.sizes
    frame = pl.DataFrame({"step": steps}).with_columns(
        channel=pl.col("step") // (influencers * campaigns), influencer_id=pl.col("step") // campaigns % influencers,
        campaign_id=pl.col("step") % campaigns)
    for column in _STEP:
        texts = coding.codes[column].rename({"code": column, "text": f"_{column}"})
        frame = frame.join(texts, on=column, how="left").drop(column).rename({f"_{column}": column})
    return frame.select("step", channel=LEVELS["channel"], touch=LEVELS["influencer_campaign"])


# a visit of the same browser key as the row before it, starting no later than it
_NOT_LATER = (pl.col("browser") == pl.col("browser").shift()) & (pl.col("at") <= pl.col("at").shift())


def _count(visits: pl.LazyFrame, browser: pl.Expr) -> tuple[_Steps, pl.DataFrame]:
    """How the steps are coded, and one row per distinct path of steps: `browsers` that never converted, and
    `collided`, whether a browser key on it stood for more than one browser."""
    keyed, coding = _keyed(visits, browser, with_visit_id=False)
    # Read day by day, a month arrives with each browser's visits in time order (a day's partition is sorted by
    # visit id: the browser's id, then its start), so a stable sort by browser alone orders them, in 40–60 % of
    # the time of a sort by (browser, start). Checked, not assumed: a backfill's own days come after later ones.
    ordered = keyed.sort("browser", maintain_order=True)
    # Only the sorted copy is needed from here: the month's visits are held once, not twice, while grouped.
    del keyed
    if ordered.select(_NOT_LATER.any()).item():
        ordered = ordered.sort("browser", "at")
        if ordered.select(_NOT_LATER.any()).item():
            # two visits of one browser key starting at the same instant (rare): their visit ids order them
            keyed, coding = _keyed(visits, browser, with_visit_id=True)
            ordered = keyed.sort("browser", "at", "visit_id")
    counted = (ordered.lazy().group_by("browser", maintain_order=True)
               .agg(converted=pl.col("converted").any(), collided=pl.col("check").min() != pl.col("check").max(),
                    steps=pl.col("step"))
               .filter(~pl.col("converted") | pl.col("collided"))
               .group_by("steps").agg(browsers=(~pl.col("converted")).sum().cast(pl.UInt32),
                                      collided=pl.col("collided").any())
               .collect())
    return coding, counted


def _counted_paths(visits: pl.LazyFrame, browser: pl.Expr) -> pl.DataFrame:
    coding, counted = _count(visits, browser)
    if counted["collided"].any():
        coding, counted = _count(visits, _EXACT)
    counted = counted.filter(pl.col("browsers") > 0).drop("collided").with_row_index("path")
    steps = counted.select("path", "steps").explode("steps")
    texts = _step_texts(steps["steps"].unique(), coding)
    named = (steps.join(texts, left_on="steps", right_on="step", how="left", maintain_order="left")
             .group_by("path", maintain_order=True).agg(channel_path="channel", touch_path="touch")
             .with_columns(pl.col("channel_path", "touch_path").list.join(" > ")))
    # Steps that differ can read the same (a campaign without channel or influencer is `none` either way)
    return (counted.join(named, on="path", maintain_order="left").group_by("channel_path", "touch_path")
            .agg(browsers=pl.col("browsers").sum().cast(pl.UInt32)))


def build_nonconverting_paths(visits: pl.LazyFrame) -> pl.DataFrame:
    """fct_visit rows of a month → its non-converting paths, counted: one row per distinct pair of paths (`channel_path`,
    `touch_path`, steps joined by " > ") with `browsers`, how many browsers took it and neither signed up nor checked
    out in the month. The browser of a converter on another device, never tied to them, counts here too: the tracker
    cannot tell them apart."""
    # A profile-L month holds some 20 M visits. Browsers, channels and touches are sorted and grouped as integers and
    # only distinct paths become text: a string path per browser cost a third more time and memory.
    return _counted_paths(visits, _HASHED)


def build_mart_channel_attribution(attribution: pl.LazyFrame, conversions: pl.LazyFrame,
                                   nonconverting: pl.LazyFrame, month: date, max_channels: int) -> pl.LazyFrame:
    """fct_attribution and fct_conversion rows converted in `month`, and that month's non-converting paths → one row
    per level × credited channel (or influencer × campaign) × model for the month."""
    frames = []
    for level, key in LEVELS.items():
        rules = attribution.group_by(credited_to=key, model=pl.col("model")).agg(
            conversions=stable_sum(pl.col("credit")), revenue=pl.col("attributed_revenue").sum().cast(MONEY))
        frames.append(rules.with_columns(level=pl.lit(level), removal_effect=pl.lit(None, pl.Float64)))
        column = "channel_path" if level == "channel" else "touch_path"
        paths = _path_frame(conversions, nonconverting, column)
        if paths.filter(pl.col("conversions") > 0).height:
            markov = markov_removal_effects(paths).lazy().select(
                credited_to="channel", model=pl.lit("markov"), conversions="markov_conversions",
                revenue=pl.col("markov_value").round(2).cast(MONEY), level=pl.lit(level),
                removal_effect="removal_effect")
            shapley = shapley_values(paths, max_channels).lazy().select(
                credited_to="channel", model=pl.lit("shapley"), conversions="shapley_conversions",
                revenue=pl.col("shapley_value").round(2).cast(MONEY), level=pl.lit(level),
                removal_effect=pl.lit(None, pl.Float64))
            frames += [markov, shapley]
    return (pl.concat(frames, how="diagonal_relaxed").with_columns(month_start_date=pl.lit(month))
            .select(_OUT).sort("level", "credited_to", "model"))
