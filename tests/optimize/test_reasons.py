"""The reasons are one typed list whose strings are the JSON's (unchanged by the typing)."""

from __future__ import annotations

import json

from photoark.optimize.freeup import FreeUpPlan, FreeUpResult, Kept
from photoark.optimize.reasons import KeepRule, KeptReason


def test_every_free_up_reason_is_named_once_with_its_json_string_and_words() -> None:
    assert [r.value for r in KeptReason] == [
        "not_backed_up",
        "modified_since_backup",
        "only_in_trash",
        "upload_in_progress",
        "server_copy_missing",
        "server_copy_corrupt",
        "unreadable",
        "changed_while_checked",
        "gone",
    ]
    assert all(r.value == r.name.lower() for r in KeptReason)
    words = {r: r.text for r in KeptReason}  # a member without words would raise here
    assert words[KeptReason.GONE] == "no longer there"
    assert words[KeptReason.ONLY_IN_TRASH] == "its backup is only in the trash"
    assert len(set(words.values())) == len(KeptReason)


def test_json_output_shows_the_plain_strings() -> None:
    plan = FreeUpPlan(kept=[Kept("/p/a.jpg", KeptReason.MODIFIED_SINCE_BACKUP)])
    result = FreeUpResult(kept=[Kept("/p/b.jpg", KeptReason.GONE)], permanent=True)
    assert json.dumps(plan.as_json()) == (
        '{"candidates": [], "bytes": 0, "kept": [{"path": "/p/a.jpg", '
        '"reason": "modified_since_backup"}]}'
    )
    shown = result.as_json()
    assert json.dumps(shown["kept"]) == '[{"path": "/p/b.jpg", "reason": "gone"}]'
    assert type(shown["kept"][0]["reason"]) is str
    assert json.dumps(KeptReason.UNREADABLE) == '"unreadable"'
    assert KeptReason("server_copy_corrupt") is KeptReason.SERVER_COPY_CORRUPT


def test_dedup_keep_rule_is_the_sentence_the_plan_shows() -> None:
    rule = "in the most albums, then the original name (not a copy's), then the oldest upload"
    assert KeepRule.MOST_ALBUMS_THEN_NAME_THEN_OLDEST.value == rule
    assert [r.value for r in KeepRule] == [rule]
