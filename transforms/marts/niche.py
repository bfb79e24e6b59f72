"""Niches: of a post from its caption, of an account from its recent posts' niches and its roster label.

Pure Polars; the keyword map and thresholds come in as the `niches` rules (influence_pipeline/rules.yaml, which documents the
matching). Texts are folded (lower case, accents dropped), links and @mentions removed, and split into words,
hashtags and the word runs that are keyword phrases. Each distinct token of a batch is matched against the keywords
once, however many captions use it.
"""
from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from influence_pipeline.transforms.business_rules import Niches

STRONG, WEAK = 2, 1
POST_MIN_SCORE = 2  # one specific keyword or two distinct generic ones: "running late" alone says nothing
LABEL_MIN_SCORE = 1  # a roster label names its topic on purpose: one keyword is enough
MIN_AFFIX = 4  # shorter keywords match only a whole hashtag: "car" must not claim #cardio, nor "pet" #petite
MIN_STEM = 3
MAX_PHRASE_WORDS = 4  # the longest phrase transforms/business_rules.py accepts ("day in my life")
# Links and mentions name other pages' topics (a brand, a friend), not the post's.
NOISE = r"https?://\S+|www\.\S+|@[\p{L}\p{N}_.]+"

_FORMS_SCHEMA = {"form": pl.String, "term": pl.String, "niche": pl.String, "weight": pl.Int64, "in_words": pl.Boolean,
                 "in_tags": pl.Boolean, "stem": pl.Boolean}


def fold(text: pl.Expr) -> pl.Expr:
    """Lower case without accents, so "Fútbol", "FUTBOL" and "futbol" read the same."""
    return text.str.normalize("NFKD").str.replace_all(r"\p{Mn}", "").str.to_lowercase()


def normalise_label(label: pl.Expr) -> pl.Expr:
    """A roster label as the synonym keys are written: "How-to & Style" → "howto style"; empty → null."""
    words = (fold(label).str.replace_all(r"[-'’]", "").str.extract_all(r"[\p{L}\p{N}]+")
             .list.eval(pl.element().filter(pl.element() != "and")).list.join(" "))
    return pl.when(words != "").then(words)


def _forms(rules: Niches) -> pl.DataFrame:
    """Every keyword as the forms a token is compared with. A phrase is matched as a run of words and, glued, as a
    single word or hashtag (#legday); neutral keywords have no niche and only shadow shorter ones."""
    rows = []
    entries = [(niche, term, weight) for niche, keywords in rules.keywords.items()
               for weight, terms in ((STRONG, keywords.strong), (WEAK, keywords.weak)) for term in terms]
    for niche, term, weight in [*entries, *((None, term, 0) for term in rules.neutral)]:
        body, tag_only, stem = term.strip("#*"), term.startswith("#"), term.endswith("*")
        if " " in body:
            rows.append((body, term, niche, weight, True, False, False))
        rows.append((body.replace(" ", ""), term, niche, weight, not tag_only, True, stem))
    return pl.DataFrame(rows, schema=_FORMS_SCHEMA, orient="row")


def _tokens(texts: pl.LazyFrame, key: str, text: str, phrases: list[str]) -> pl.LazyFrame:
    """(key, text) → distinct (key, token): words, "#hashtags" and the runs of up to MAX_PHRASE_WORDS words that are
    keyword phrases (plural or not). Underscores and apostrophes are dropped, so #day_in_my_life reads as
    #dayinmylife and "let's play" as "lets play"."""
    words = (fold(pl.col(text)).str.replace_all(NOISE, " ").str.replace_all(r"[_'’]", "")
             .str.extract_all(r"#?[\p{L}\p{N}]+"))
    runs = [words.list.eval(pl.concat_str([pl.element().shift(-i) for i in range(n)], separator=" "))
            for n in range(2, MAX_PHRASE_WORDS + 1)]
    token = pl.col("token")
    # Word runs are kept only when they are phrases: a caption has far more runs than words, almost none of them
    # keywords, and the run vocabulary of a night's captions would dwarf the word vocabulary.
    is_phrase = (token.is_in(phrases) | token.str.strip_suffix("s").is_in(phrases)
                 | token.str.strip_suffix("es").is_in(phrases))
    return (texts.select(key, token=pl.concat_list(words, *runs)).explode("token")
            .filter(token.is_not_null() & (~token.str.contains(" ", literal=True) | is_phrase))
            .unique())


def _token_terms(tokens: pl.LazyFrame, forms: pl.DataFrame) -> pl.LazyFrame:
    """Distinct tokens → the keywords each one matches: (token, term, niche, weight).

    A word matches a keyword whole (also without a trailing s / es), or by prefix when the keyword is a stem. A
    hashtag matches whole, or by its start or end when the keyword is long enough (stems by their start only).
    Within a token only the longest match at its start and the longest at its end count, so #techno is music (not
    tech) and #skincareroutine counts "skin care" and "routine" but not "skin"."""
    body, n = pl.col("token").str.strip_prefix("#"), pl.col("body").str.len_chars()
    vocab = (tokens.select("token").unique()
             .with_columns(is_tag=pl.col("token").str.starts_with("#"), body=body).with_columns(n=n))
    whole = vocab.with_columns(piece=pl.col("body"), start=True, end=True)
    singular = pl.concat([vocab.filter(~pl.col("is_tag")).with_columns(piece=pl.col("body").str.strip_suffix(s))
                          for s in ("s", "es")]).filter(pl.col("piece") != pl.col("body")).with_columns(
        start=True, end=True)
    # A start or end shorter than the token and no longer than the longest keyword; phrases only match whole.
    single = vocab.filter(~pl.col("body").str.contains(" ", literal=True))
    upto = pl.min_horizontal(pl.col("n"), forms.get_column("form").str.len_chars().max() + 1)
    k = pl.col("k").cast(pl.UInt32)
    prefixes = (single.with_columns(k=pl.int_ranges(MIN_STEM, upto)).explode("k")
                .filter(pl.col("k").is_not_null()).with_columns(piece=pl.col("body").str.head(k), start=True, end=False))
    suffixes = (single.filter(pl.col("is_tag")).with_columns(k=pl.int_ranges(MIN_AFFIX, upto)).explode("k")
                .filter(pl.col("k").is_not_null()).with_columns(piece=pl.col("body").str.tail(k), start=False, end=True))
    columns = ["token", "is_tag", "piece", "start", "end"]
    candidates = pl.concat([frame.select(columns) for frame in (whole, singular, prefixes, suffixes)])
    matched = candidates.join(forms.lazy(), left_on="piece", right_on="form", how="inner").with_columns(
        length=pl.col("piece").str.len_chars())
    is_whole, long_enough = pl.col("start") & pl.col("end"), pl.col("length") >= MIN_AFFIX
    in_word = ~pl.col("is_tag") & pl.col("in_words") & (is_whole | pl.col("stem"))
    in_tag = pl.col("is_tag") & pl.col("in_tags") & (
        is_whole | (pl.col("start") & (pl.col("stem") | long_enough)) | (pl.col("end") & ~pl.col("stem") & long_enough))
    allowed = matched.filter(in_word | in_tag)
    longest_start = pl.col("length").filter(pl.col("start")).max().over("token")
    longest_end = pl.col("length").filter(pl.col("end")).max().over("token")
    return (allowed.filter((pl.col("start") & (pl.col("length") == longest_start))
                           | (pl.col("end") & (pl.col("length") == longest_end)))
            .filter(pl.col("niche").is_not_null()).select("token", "term", "niche", "weight").unique())


def _scores(texts: pl.LazyFrame, key: str, text: str, rules: Niches) -> pl.LazyFrame:
    """(key, text) → (key, niche, score): the weights of the distinct keywords of each niche the text contains."""
    forms = _forms(rules)
    phrases = forms.filter(pl.col("form").str.contains(" ", literal=True)).get_column("form").to_list()
    tokens = _tokens(texts, key, text, phrases).cache()  # read twice below; computing it twice triples the cost
    return (tokens.join(_token_terms(tokens, forms), on="token", how="inner")
            .unique([key, "term"]).group_by([key, "niche"]).agg(score=pl.col("weight").sum()))


def _winner(scores: pl.LazyFrame, key: str, min_score: int) -> pl.LazyFrame:
    """The niche that scores at least `min_score` and more than any other; a tie at the top says nothing."""
    top = pl.col("score").max()
    return (scores.group_by(key).agg(niche=pl.col("niche").sort_by("score", descending=True).first(), best=top,
                                     leaders=(pl.col("score") == top).sum())
            .filter((pl.col("best") >= min_score) & (pl.col("leaders") == 1)).select(key, "niche"))


def classify_captions(posts: pl.LazyFrame, rules: Niches) -> pl.LazyFrame:
    """(post_id, caption) → (post_id, post_niche) for every post whose caption points to one niche."""
    return _winner(_scores(posts, "post_id", "caption", rules), "post_id", POST_MIN_SCORE).rename(
        {"niche": "post_niche"})


def map_roster_niches(accounts: pl.LazyFrame, rules: Niches) -> pl.LazyFrame:
    """(account_id, niche as typed in the CRM) → (account_id, roster_niche): a niche's own name, else its synonym
    (null for generic labels such as "Digital creator"), else the niche its keywords point to."""
    names = {name: name for name in rules.keywords}
    synonyms = pl.LazyFrame({"label": [*names, *rules.synonyms], "_synonym": [*names.values(), *rules.synonyms.values()]},
                            schema={"label": pl.String, "_synonym": pl.String}).with_columns(_listed=pl.lit(True))
    labels = (accounts.select("account_id", label=normalise_label(pl.col("niche"))).filter(pl.col("label").is_not_null())
              .join(synonyms.unique("label", keep="last"), on="label", how="left"))
    by_keywords = _winner(_scores(labels.filter(pl.col("_listed").is_null()), "account_id", "label", rules),
                          "account_id", LABEL_MIN_SCORE)
    return (labels.join(by_keywords, on="account_id", how="left")
            .select("account_id", roster_niche=pl.when(pl.col("_listed")).then("_synonym").otherwise("niche")))


def count_niche_posts(posts: pl.LazyFrame, as_of: date, rules: Niches) -> pl.LazyFrame:
    """fct_post_engagement rows (post_id, account_id, posted_date, post_niche) → (account_id, niche, posts,
    last_posted): distinct classified posts per account and niche, posted in the `window_days` up to `as_of`."""
    first = as_of - timedelta(days=rules.window_days - 1)
    return (posts.filter(pl.col("posted_date").is_between(first, as_of) & pl.col("post_niche").is_not_null())
            .sort(["post_id", "posted_date"]).unique("post_id", keep="last", maintain_order=True)
            .group_by("account_id", pl.col("post_niche").alias("niche"))
            .agg(posts=pl.len().cast(pl.Int64), last_posted=pl.col("posted_date").max()))


def infer_caption_niches(evidence: pl.LazyFrame, previous: pl.LazyFrame, rules: Niches) -> pl.LazyFrame:
    """count_niche_posts and the previous night's dim_account (account_id, niche, niche_source) → (account_id,
    caption_niche). The leader (most posts; then the most recently posted; then the first by name) needs `min_posts`
    classified posts; it replaces yesterday's caption niche only with at least `switch_ratio` × that niche's posts,
    so one odd week does not flip a label. Without enough evidence yesterday's caption niche stays."""
    totals = evidence.group_by("account_id").agg(classified=pl.col("posts").sum())
    leader = (evidence.sort(["account_id", "posts", "last_posted", "niche"], descending=[False, True, True, False])
              .group_by("account_id", maintain_order=True).first()
              .select("account_id", _lead="niche", _lead_posts="posts"))
    before = (previous.filter((pl.col("niche_source") == "captions") & pl.col("niche").is_in(list(rules.keywords)))
              .select("account_id", _before="niche"))
    before_posts = evidence.select("account_id", _before="niche", _before_posts="posts")
    accounts = pl.concat([totals.select("account_id"), before.select("account_id")]).unique()
    switch = (pl.col("_before").is_null() | (pl.col("_lead") == pl.col("_before"))
              | (pl.col("_lead_posts") >= rules.switch_ratio * pl.col("_before_posts").fill_null(0)))
    return (accounts.join(totals, on="account_id", how="left").join(leader, on="account_id", how="left")
            .join(before, on="account_id", how="left").join(before_posts, on=["account_id", "_before"], how="left")
            .select("account_id", caption_niche=pl.when((pl.col("classified") >= rules.min_posts) & switch)
                    .then("_lead").otherwise("_before")))
