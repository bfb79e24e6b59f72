"""Path aggregates, the heuristic models, the path-file reader and `influence attribute-paths`."""
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from influence_pipeline.sources.path_file import PathFileError, read_path_file
from influence_pipeline.transforms.attribution.markov import markov_removal_effects
from influence_pipeline.transforms.attribution.paths import build_heuristic_credit, collapse_repeats, unique_touches

PATHS = Path(__file__).parent / "fixtures" / "paths"
HEADER = "path;total_conversions;total_conversion_value;total_null"


def frame(*rows) -> pl.DataFrame:
    """(path "A>B", conversions, value, nulls) tuples → a path-aggregate frame."""
    return pl.DataFrame({"path": [p.split(">") for p, *_ in rows], "conversions": [float(r[1]) for r in rows],
                         "value": [float(r[2]) for r in rows], "nulls": [float(r[3]) for r in rows]})


def as_dict(df: pl.DataFrame, key: str = "path") -> dict:
    return {(">".join(r[key]) if isinstance(r[key], list) else r[key]): r for r in df.to_dicts()}


def test_collapse_repeats_merges_consecutive_touches_and_reaggregates():
    paths = frame(("A>A>B>A", 1, 10, 2), ("A>B>B>A", 2, 5, 0), ("B>B", 0, 0, 4), ("B", 1, 3, 1))
    out = as_dict(collapse_repeats(paths))
    assert set(out) == {"A>B>A", "B"}
    assert (out["A>B>A"]["conversions"], out["A>B>A"]["value"], out["A>B>A"]["nulls"]) == (3.0, 15.0, 2.0)
    assert (out["B"]["conversions"], out["B"]["value"], out["B"]["nulls"]) == (1.0, 3.0, 5.0)
    assert paths["path"].to_list()[0] == ["A", "A", "B", "A"]  # input untouched


def test_unique_touches_keeps_first_occurrences():
    out = as_dict(unique_touches(frame(("A>B>A>C", 1, 1, 0), ("A>B>C>B", 2, 2, 1), ("C>A", 1, 1, 1)).lazy()))
    assert set(out) == {"A>B>C", "C>A"}
    assert out["A>B>C"]["conversions"] == 3.0 and out["A>B>C"]["nulls"] == 1.0


def test_heuristics_on_the_published_example():
    # A>B>A>B>B>A, A>B>B>A>A, A>A, one conversion each: first and last touch give all 3 to A. Linear counts every
    # touch: A gets 3/6 + 3/5 + 2/2 = 2.1 and B 3/6 + 2/5 = 0.9; with values 10, 20, 30: A 5 + 12 + 30 = 47, B 13.
    out = as_dict(build_heuristic_credit(read_path_file(PATHS / "published.csv")), "channel")
    assert out["A"]["first_touch_conversions"] == out["A"]["last_touch_conversions"] == 3.0
    assert out["A"]["first_touch_value"] == out["A"]["last_touch_value"] == 60.0
    assert out["B"]["first_touch_conversions"] == out["B"]["last_touch_conversions"] == 0.0
    assert out["A"]["linear_conversions"] == pytest.approx(2.1) and out["B"]["linear_conversions"] == pytest.approx(0.9)
    assert out["A"]["linear_value"] == pytest.approx(47.0) and out["B"]["linear_value"] == pytest.approx(13.0)


def test_heuristics_sum_to_totals_and_list_channels_seen_only_on_null_paths():
    paths = frame(("A>B>C", 2, 20, 1), ("C>C", 1, 5, 0), ("X>A", 0, 0, 9), ("B", 4, 8, 2))
    out = build_heuristic_credit(paths)
    assert out["channel"].to_list() == ["A", "B", "C", "X"]
    for model in ("first_touch", "last_touch", "linear"):
        assert out[f"{model}_conversions"].sum() == pytest.approx(7.0)
        assert out[f"{model}_value"].sum() == pytest.approx(33.0)
    x = as_dict(out, "channel")["X"]
    assert all(x[c] == 0.0 for c in out.columns if c != "channel")
    c = as_dict(out, "channel")["C"]
    assert (c["last_touch_conversions"], c["linear_conversions"]) == (3.0, pytest.approx(2 / 3 + 1))


def test_heuristics_of_nothing_is_an_empty_frame():
    empty = frame(("A", 0, 0, 0)).clear()
    assert build_heuristic_credit(empty).is_empty()


def test_reader_trims_channels_and_skips_blank_lines():
    paths = read_path_file(PATHS / "journeys.csv")
    assert paths.schema == pl.Schema({"path": pl.List(pl.String), "conversions": pl.Float64, "value": pl.Float64,
                                      "nulls": pl.Float64})
    assert paths["path"].to_list()[0] == ["search", "email", "display"]
    assert paths["path"].to_list()[2] == ["search", "search", "social"]
    assert paths.row(0)[1:] == (2.0, 120.5, 5.0) and paths.height == 5


def test_reader_takes_another_separator(tmp_path):
    file = tmp_path / "p.csv"
    file.write_text(f"{HEADER}\nsearch | e-mail>promo |x;1;2;3\n")
    assert read_path_file(file, sep="|")["path"].to_list() == [["search", "e-mail>promo", "x"]]


@pytest.mark.parametrize(("text", "where", "what"), [
    ("path;total_conversions;total_null\nA;1;0\n", "line 1", "missing column total_conversion_value"),
    (f"{HEADER}\nA>B;1;2;0\nB;x;2;0\n", "line 3", "field total_conversions is 'x', not a number"),
    (f"{HEADER}\nA>B;1;2;-1\n", "line 2", "field total_null is '-1', a negative count"),
    (f"{HEADER}\nA;1;2;0\n ;1;2;0\n", "line 3", "field path is empty"),
    (f"{HEADER}\nA>>B;1;2;0\n", "line 2", "has an empty channel name"),
    (f"{HEADER}\nA;1;2\n", "line 2", "field total_null is missing"),
    (f"{HEADER}\nA;1;nan;0\n", "line 2", "field total_conversion_value is 'nan', not a finite number"),
    ("", "line 1", "the file is empty"),
])
def test_reader_names_file_line_and_field(tmp_path, text, where, what):
    file = tmp_path / "paths.csv"
    file.write_text(text)
    with pytest.raises(PathFileError) as caught:
        read_path_file(file)
    assert str(caught.value).startswith(f"{file}, {where}: ") and what in str(caught.value)


def test_reader_reports_a_missing_file(tmp_path):
    with pytest.raises(PathFileError, match="nope.csv: cannot be read"):
        read_path_file(tmp_path / "nope.csv")


def cli():
    from influence_pipeline.cli import app

    return CliRunner(), app


def test_cli_writes_one_row_per_channel(tmp_path):
    runner, app = cli()
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["attribute-paths", str(PATHS / "published.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = pl.read_csv(out)
    assert report.columns == ["channel", "first_touch_conversions", "first_touch_value", "last_touch_conversions",
                              "last_touch_value", "linear_conversions", "linear_value", "markov_conversions",
                              "markov_value", "markov_removal_effect"]
    a, b = report.to_dicts()
    assert (a["channel"], a["first_touch_conversions"], a["markov_conversions"], a["markov_removal_effect"]) == \
        ("A", 3.0, pytest.approx(2.0), pytest.approx(1.0))
    assert (b["channel"], b["last_touch_conversions"], b["markov_value"], b["markov_removal_effect"]) == \
        ("B", 0.0, pytest.approx(20.0), pytest.approx(0.5))


def test_cli_prints_a_table_without_out():
    runner, app = cli()
    result = runner.invoke(app, ["attribute-paths", str(PATHS / "journeys.csv")], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert all(channel in result.output for channel in ("display", "email", "search", "social"))
    assert "removal" in result.output and "0.8788" in result.output  # email's removal effect, 4 decimals


def test_cli_bad_file_is_one_error_line_and_exit_2():
    runner, app = cli()
    result = runner.invoke(app, ["attribute-paths", str(PATHS / "bad_count.csv")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {PATHS / 'bad_count.csv'}, line 3: field total_conversions is 'two', "
                                     "not a number")
    assert "Traceback" not in result.output


def write_random_path_file(file: Path, rng: np.random.Generator, rows: int = 400, channels: int = 7) -> None:
    """Random journeys in the ChannelAttribution format, with spaces around some separators and integer counts
    (ChannelAttribution takes whole numbers of conversions and nulls)."""
    names = [f"ch{i}" for i in range(channels)]
    popularity = rng.dirichlet(np.ones(channels))
    lines = [HEADER]
    for _ in range(rows):
        touches = [names[i] for i in rng.choice(channels, rng.integers(1, 9), p=popularity)]
        path = touches[0] + "".join((" > " if rng.random() < 0.3 else ">") + t for t in touches[1:])
        conversions = int(rng.integers(0, 5))
        value = round(conversions * float(rng.gamma(2.0, 40.0)), 2)
        lines.append(f"{path};{conversions};{value};{int(rng.integers(0 if conversions else 1, 8))}")
    file.write_text("\n".join(lines) + "\n")


def ca_frame(file: Path):
    import pandas as pd

    return pd.read_csv(file, sep=";")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_heuristics_match_channelattribution_exactly(tmp_path, seed):
    ca = pytest.importorskip("ChannelAttribution", reason="ChannelAttribution (dev extra) is not installed")
    file = tmp_path / "paths.csv"
    write_random_path_file(file, np.random.default_rng(seed))
    theirs = ca.heuristic_models(ca_frame(file), "path", "total_conversions", var_value="total_conversion_value",
                                 flg_pro=False)
    theirs = {r["channel_name"]: r for r in theirs.to_dict("records")}
    ours = as_dict(build_heuristic_credit(read_path_file(file)), "channel")
    assert set(theirs) <= set(ours)
    pairs = [("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")]
    for channel, mine in ours.items():
        other = theirs.get(channel, {})
        for our_model, their_model in pairs:
            for measure in ("conversions", "value"):
                expected = other.get(f"{their_model}_{measure}", 0.0)
                assert mine[f"{our_model}_{measure}"] == pytest.approx(expected, rel=1e-9, abs=1e-9), \
                    (channel, our_model, measure)


def test_markov_matches_channelattribution_within_simulation_error(tmp_path):
    ca = pytest.importorskip("ChannelAttribution", reason="ChannelAttribution (dev extra) is not installed")
    file = tmp_path / "paths.csv"
    write_random_path_file(file, np.random.default_rng(11), rows=300, channels=6)
    # Its answer is a simulation of 10⁶ journeys: about ±0.003 here. max_step well above any path, so that no
    # simulated journey is cut short (the default, the longest path seen, biases the effects down).
    theirs = ca.markov_model(ca_frame(file), "path", "total_conversions", var_value="total_conversion_value",
                             var_null="total_null", order=1, nsim_start=1e6, max_step=1000, out_more=True, seed=1,
                             verbose=False, flg_pro=False)["removal_effects"]
    theirs = dict(zip(theirs["channel_name"], theirs["removal_effects_conversion"]))
    ours = dict(markov_removal_effects(read_path_file(file)).select("channel", "removal_effect").iter_rows())
    assert set(theirs) == set(ours)
    for channel, effect in ours.items():
        assert effect == pytest.approx(theirs[channel], abs=0.02), channel
