"""The free-text masking of ingestion masks each distinct value once, and runs each rule only on the values that hold
what the rule needs (an "@" for an e-mail, two colons for an IPv6, ...): the result must be exactly that of running
every rule on every row."""
from __future__ import annotations

import polars as pl
from hypothesis import given, settings, strategies as st

from influence_pipeline.transforms import free_text
from influence_pipeline.transforms.free_text import RULES, mask_free_text, mask_text

# Pieces of URLs and of the personal data hidden in them, plainly and once or twice %-encoded, in any order.
FRAGMENTS = ["@", "%40", "%2540", ":", "::", "%3A", "%3a", "%253A", ".", "0", "1", "10", "192", "255", "2001", "fe80",
             "db8", "+", "%2B", "%252b", "=", "%3D", "%253d", "?", "&", "%26", "%3F", "email", "phone", "token", "ip",
             "mail", "a", "b", "-", "_", " ", "(", ")", "/", "%20", "555", "0134", "030", "é", "\n", "x.example"]



def _joined(*parts):
    return st.tuples(*(st.sampled_from(p) for p in parts)).map("".join)


# What each rule masks, in each of its forms, so that matches are common and a prefilter too strict fails the test.
PERSONAL = st.one_of(
    _joined(["a", "x.y", "b_c+d"], ["@", "%40", "%2540"], ["c.example", "d-e.org"]),
    _joined(["?", "&", ";", "%3F", "%26", "%253F", "%2526"], ["email", "user_email", "Token", "ip", "tel", "x"],
            ["=", "%3D", "%3d", "%253D"], ["q", "1", "a%40b", ""]),
    st.lists(st.sampled_from(["0", "1", "10", "192", "255", "256"]), min_size=4, max_size=5).map(".".join),
    st.sampled_from(["::1", "fe80::1ff:fe23", "2001%3Adb8%3A%3A7", "1:2:3:4:5:6:7:8", "a%253Ab%253A%253Ac"]),
    st.sampled_from(["+44 20 7946 0958", "%2B1+415+555+0134", "(415) 555-0199", "030 1234 5678",
                     "%252B33%20612345678", "555.123.4567",
                     "%2B4 4 2 0 7 9 4 6 0", "%252B3-3-6-1-2-3-4-5"]),
    st.sampled_from(FRAGMENTS),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(PERSONAL, max_size=10).map("".join)), min_size=1, max_size=20))
def test_prefiltered_masking_equals_every_rule_on_every_row(texts):
    frame = pl.DataFrame({"u": texts, "other": texts}, schema={"u": pl.String, "other": pl.String})
    before = frame.clone()
    expected = frame.with_columns(mask_text(pl.col("u")).alias("u"))
    assert mask_free_text(frame, ["u"]).equals(expected)
    assert frame.equals(before)  # a pure transform: its input frame is left as it was


def test_every_prefilter_belongs_to_a_rule_and_finds_its_matches():
    patterns = {pattern for pattern, _ in RULES}
    # an entry must not outlive the pattern it was written for (its rule would then run unfiltered: slower, not wrong)
    assert set(free_text._NEEDS) <= patterns
    samples = ["a.b@c.example", "x%40y.example", "x%2540y.example", "2001:db8::7", "2001%3Adb8%3A%3A7", "10.0.0.1",
               "%2B44 20 7946 0958", "(415) 555-0199", "030 1234 5678", "?email=q", "%3Ftoken%3Dq", "%253Fpwd%253Dq"]
    for pattern, needs in free_text._NEEDS.items():
        matched = pl.Series(samples).str.contains(pattern)
        assert matched.any(), pattern  # the samples exercise each prefiltered rule
        # every sample the rule matches holds what the prefilter looks for
        assert not (matched & ~pl.Series(samples).str.contains(needs)).any(), pattern
