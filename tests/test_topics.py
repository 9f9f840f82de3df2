"""The instance's topic list and the one check every topic-carrying field uses."""

from __future__ import annotations

import pytest

from parlor.domain.topics import DEFAULT_TOPICS, check_topics
from parlor.errors import Code, ParlorError
from parlor.settings import SettingsError, load


def test_topics_are_checked_against_the_instance_list() -> None:
    assert check_topics(["Music", "music", " tech "], DEFAULT_TOPICS) == ("music", "tech")
    for raw, code in [
        (["music", "tech", "art", "food"], Code.TOO_MANY_TOPICS),
        (["knitting"], Code.UNKNOWN_TOPIC),
        ("music", Code.INVALID_INPUT),
        ([1], Code.INVALID_INPUT),
    ]:
        with pytest.raises(ParlorError) as info:
            check_topics(raw, DEFAULT_TOPICS)
        assert info.value.code == code


def test_operator_sets_the_topic_list() -> None:
    settings = load({"PARLOR_TOPICS": "Knitting, birding,knitting"})
    assert settings.topics == ("knitting", "birding")
    with pytest.raises(SettingsError):
        load({"PARLOR_TOPICS": "no spaces allowed"})
