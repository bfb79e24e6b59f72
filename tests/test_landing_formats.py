"""Landing formats follow the platforms' current APIs; files in an earlier shape keep loading (contract formerNames).

TikTok's user_info moved from the Display API-style names (follower_count, likes_count, video_count) to the Business
API's (followers_count, total_likes, videos_count): both land in the same raw columns, line by line.
"""
import json
from pathlib import Path

import pytest

from influence_pipeline.schemas.raw import BY_NAME, RawDataset, RawField
from influence_pipeline.sources.landing import LandingFileError, read_landing_file
from tests.bad_input.helpers import _assert_quarantined, _row_numbers, _split_one, _stage

KEY = b"k" * 32
CURRENT = {"username": "glowbyjane", "display_name": "Jane Glow", "followers_count": 1240, "following_count": 80,
           "total_likes": 56000, "videos_count": 90, "fetched_at": "2026-11-02T03:10:00Z"}
EARLIER = {"username": "glowbyjane", "display_name": "Jane Glow", "follower_count": 1240, "following_count": 80,
           "likes_count": 56000, "video_count": 90, "fetched_at": "2026-11-02T03:10:00Z"}
COUNTS = ["follower_count", "following_count", "likes_count", "video_count"]


def _read(tmp_path: Path, records: list[dict], dataset: RawDataset = BY_NAME["tiktok_user_info"]):
    path = tmp_path / dataset.file
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return read_landing_file(dataset, path, f"tiktok/2026-11-02/{dataset.file}", "run", KEY).to_pylist()


def test_the_contract_reads_the_current_api_names_and_remembers_the_earlier_ones():
    fields = {f.name: f for f in BY_NAME["tiktok_user_info"].fields}
    assert fields["follower_count"].json_paths == (("followers_count",), ("follower_count",))
    assert fields["likes_count"].json_paths == (("total_likes",), ("likes_count",))
    assert fields["video_count"].json_paths == (("videos_count",), ("video_count",))
    assert fields["following_count"].json_paths == (("following_count",),)  # the same name in both APIs


def test_a_line_in_either_shape_gives_the_same_raw_row(tmp_path):
    current, earlier = _read(tmp_path, [CURRENT, EARLIER])
    assert [current[c] for c in COUNTS] == ["1240", "80", "56000", "90"]
    assert {k: v for k, v in current.items() if k != "_row_number"} == \
        {k: v for k, v in earlier.items() if k != "_row_number"}


def test_the_current_name_wins_when_a_line_carries_both(tmp_path):
    (row,) = _read(tmp_path, [{**EARLIER, **CURRENT, "follower_count": 5}])
    assert row["follower_count"] == "1240"


def test_an_earlier_name_is_read_when_the_current_key_is_null(tmp_path):
    (row,) = _read(tmp_path, [{**EARLIER, "followers_count": None}])
    assert row["follower_count"] == "1240"


def test_a_bad_value_under_the_current_name_is_quarantined_by_the_same_rule(tmp_path):
    path = tmp_path / "user_info.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in [CURRENT, {**CURRENT, "username": "other",
                                                                      "followers_count": -3}]))
    _, split = _split_one(path, "tiktok_user_info")
    _assert_quarantined(split, "tiktok_user_info", 2, "tiktok_user_info.follower_count.range",
                        'follower_count "-3" is out of range (must be at least 0)')
    assert _row_numbers(split.clean) == [1]


CSV = RawDataset("renamed", "src", "report.csv", (RawField("views"), RawField("subscriber_count", former=(("subs",),))))


def test_a_csv_header_with_an_earlier_column_name_loads(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("views,subs\n10,300\n")
    (row,) = read_landing_file(CSV, path, "src/2026-11-02/report.csv", "run", KEY).to_pylist()
    assert (row["views"], row["subscriber_count"]) == ("10", "300")


def test_a_csv_header_with_neither_name_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("views\n10\n")
    with pytest.raises(LandingFileError, match="lacks the column.*subscriber_count"):
        read_landing_file(CSV, path, "src/2026-11-02/report.csv", "run", KEY)


def test_a_pulled_story_carries_views_navigation_and_profile_activity_and_no_link_taps(tmp_path):
    """The Graph API's story metrics (no link-sticker taps) reach stg_post_snapshots; views count as the story's."""
    media = tmp_path / "media.ndjson"
    media.write_text(json.dumps({
        "id": "9002", "owner": {"id": "17841400000000001"}, "media_type": "IMAGE", "media_product_type": "STORY",
        "timestamp": "2026-11-01T20:00:00+0000", "caption": "", "permalink": "https://www.instagram.com/stories/x/9002/",
        "comments_count": 0, "fetched_at": "2026-11-02T02:00:00+0000", "api_version": "v24.0"}) + "\n")
    stories = tmp_path / "story_insights.ndjson"
    stories.write_text(json.dumps({"media_id": "9002", "reach": 2100, "replies": 14, "shares": 3, "views": 2650,
                                   "navigation": 1980, "profile_activity": 52, "fetched_at": "2026-11-02T02:00:00+0000",
                                   "api_version": "v24.0"}) + "\n")
    splits = {"instagram_media": _split_one(media, "instagram_media")[1],
              "instagram_story_insights": _split_one(stories, "instagram_story_insights",
                                                     {"instagram_media.id": ["9002"]})[1]}
    (row,) = _stage(splits, "stg_post_snapshots").to_dicts()
    assert {k: row[k] for k in ("post_id", "is_story", "reach", "replies", "shares", "views", "story_navigation",
                                "profile_activity", "link_clicks")} == {
        "post_id": "instagram:9002", "is_story": True, "reach": 2100, "replies": 14, "shares": 3, "views": 2650,
        "story_navigation": 1980, "profile_activity": 52, "link_clicks": None}
