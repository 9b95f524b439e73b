"""WeChat's draft/add content limits measured as WeChat measures them: characters, and UTF-8 bytes.

The 1 MB limit cannot bind before the 20,000-character one (20,000 characters are at most 80 KB in
UTF-8), so no article reaches it through the send path; the rule is still the document's, checked here.
"""

from articles.draft_limits import CONTENT_BYTES_LIMIT, CONTENT_CHARACTERS_LIMIT, draft_content_excess


def test_content_just_under_both_limits_is_within_them():
    assert draft_content_excess("汉" * (CONTENT_CHARACTERS_LIMIT - 1)) == (0, 0)


def test_both_limits_are_exclusive_and_bytes_are_counted_in_utf8():
    assert draft_content_excess("a" * CONTENT_CHARACTERS_LIMIT) == (1, 0)
    # 3 bytes a character: over 1 MB by exactly the bytes past 1,048,575.
    content = "汉" * 350_000
    assert draft_content_excess(content) == (
        350_000 - (CONTENT_CHARACTERS_LIMIT - 1),
        350_000 * 3 - (CONTENT_BYTES_LIMIT - 1),
    )


def test_twenty_thousand_characters_never_reach_a_megabyte():
    widest = "😀" * (CONTENT_CHARACTERS_LIMIT - 1)  # 4 bytes each, the most UTF-8 spends on a character
    assert len(widest.encode()) < CONTENT_BYTES_LIMIT
    assert draft_content_excess(widest) == (0, 0)
