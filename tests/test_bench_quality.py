"""`parlor bench quality`: the scorer on known signals, and one short run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from parlor.bench import speech


@pytest.fixture(scope="module")
def sentence(tmp_path_factory: pytest.TempPathFactory) -> speech.Speech:
    return speech.make_speech(tmp_path_factory.mktemp("speech") / "s.wav", 1)


def test_alignment_finds_where_in_the_loop_a_recording_starts(sentence: speech.Speech) -> None:
    ref = sentence.samples
    for start in (0, 12_345, len(ref) - 4_800):
        recording = speech.looped(ref, start, len(ref) + speech.RATE)
        # a whole-sample offset at 48 kHz is found to within one 16 kHz sample
        assert abs(speech.align(recording, ref) - start) <= 3


def test_pesq_tells_clean_speech_from_damaged(sentence: speech.Speech) -> None:
    ref = sentence.samples
    recording = speech.looped(ref, 5_000, len(ref) + speech.RATE // 2)
    clean, _ = speech.score(recording, ref)
    damaged = recording.copy()
    frame = speech.RATE // 50
    for i in range(0, len(damaged) - frame, 5 * frame):  # every fifth 20 ms frame lost
        damaged[i : i + frame] = 0
    hurt, _ = speech.score(damaged, ref)
    assert clean > 4.3
    assert hurt < clean - 1.0
    # a turn-by-turn score over windows of the recording
    half = len(recording) // 2
    assert speech.score_windows(recording, ref, [(0, half)]) > 4.3


def test_missing_speech_says_where_in_a_turn_speech_was_cut(sentence: speech.Speech) -> None:
    ref = speech.looped(sentence.samples, 0, 3 * speech.RATE)
    turns = [(0, speech.RATE), (speech.RATE, 2 * speech.RATE), (2 * speech.RATE, 3 * speech.RATE)]
    bins = [(0.0, 0.25), (0.25, 0.5), (0.5, 1.0)]
    whole = speech.missing_speech(ref, ref, turns, bins)
    assert all(frames > 0 and missing == 0 for missing, frames in whole)
    cut = ref.copy()
    for start, _ in turns:  # the first 0.3 s of every turn lost, as a late slot hand-over would
        cut[start : start + int(0.3 * speech.RATE)] = 0
    first, second, rest = speech.missing_speech(cut, ref, turns, bins)
    assert first[0] == first[1] > 0  # all of it
    assert 0 < second[0] < second[1]  # 0.25-0.3 s of the 0.25-0.5 s
    assert rest[0] == 0


@pytest.mark.media
@pytest.mark.browser
def test_quality_bench_runs_end_to_end(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "quality", "--runs", "1", "--sentences", "1", "--json"],
        capture_output=True, text=True, timeout=240,
    )
    # on failure the bench's last lines say which run and stage failed and what each page saw
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["runs"] == 1
    for mode in ("parlor", "direct"):
        # speech was heard and scored on both paths (silence or garble scores ~1; a busy
        # box pulls a good path down to ~2)
        assert result[f"pesq_{mode}_median"] > 1.5, result
        assert result[f"pesq_{mode}_min"] == result[f"pesq_{mode}_median"]
        for key in ("concealed_samples", "inserted_samples_for_deceleration", "removed_samples_for_acceleration",
                    "packets_lost"):
            assert result[f"{key}_{mode}"] >= 0
        assert result[f"jitter_buffer_ms_{mode}_median"] > 0
        assert result[f"packets_per_s_{mode}_median"] > 10
    assert {r["mode"] for r in result["per_run"]} == {"parlor", "direct"}
    # the node's own counters over the Parlor run: what it forwarded reached the listener
    through = next(r for r in result["per_run"] if r["mode"] == "parlor")
    assert through["packets_received"] > 0, through
    assert abs(through["node_packets_forwarded"] - through["packets_received"]) <= 5, through  # windows a few ms apart
    assert through["node_packets_malformed"] == 0, through
    assert set(result["accept"]) == {"worst", "median", "concealed"}
