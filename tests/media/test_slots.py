"""The loudest-K slot router, driven directly with packets at chosen times and levels."""

from __future__ import annotations

import pytest

from parlor.media.slots import MIN_HOLD_S, QUIET_S, SWITCH_MARGIN_DB, SlotRouter

LOUD = 20  # -20 dBov: ordinary speech
QUIET = 40  # 20 dB quieter
SILENCE = 127


def talk(router: SlotRouter, user: str, start: float, seconds: float, level: int | None) -> list[int | None]:
    """One packet every 20 ms; the slots the packets were routed to."""
    return [router.route(user, start + i * 0.02, level) for i in range(round(seconds / 0.02))]


@pytest.mark.parametrize("k", [1, 3])
def test_free_slots_go_to_active_speakers_in_turn(k: int) -> None:
    router = SlotRouter(k)
    # silence takes a free slot (the speaker's stream reaches listeners from the start)
    assert router.route("s0", 0.0, SILENCE) == 0
    for i in range(k):
        assert router.route(f"s{i}", 0.01 * i, QUIET) == i
        assert router.route(f"s{i}", 0.01 * i + 0.02, QUIET) == i  # talking
    assert router.route("late", 0.1, QUIET) is None  # full, and not louder
    assert router.holders() == [f"s{i}" for i in range(k)]
    # a holder keeps its slot through its own silence (comfort noise is forwarded)
    assert router.route("s0", 0.2, SILENCE) == 0


def test_silent_holder_yields_to_the_first_active_packet() -> None:
    router = SlotRouter(1)
    assert talk(router, "hush", 0.0, 1.0, SILENCE)[-1] == 0  # on stage, silent: holds the free slot
    assert router.route("other", 1.0, SILENCE) is None  # silence never takes a held slot
    assert router.route("talker", 1.01, QUIET) == 0  # the first active packet takes it
    assert router.holders() == ["talker"] and router.slot_of("hush") is None


def test_talk_spurt_takes_a_quieter_holders_slot_at_its_first_packet() -> None:
    router = SlotRouter(1)
    talk(router, "quiet", 0.0, 1.0, QUIET)
    assert router.route("loud", 1.0, LOUD) == 0  # 20 dB above the holder's peaks


@pytest.mark.parametrize("k", [1, 3])
def test_clearly_louder_newcomer_displaces_quietest_after_min_hold(k: int) -> None:
    router = SlotRouter(k)
    holders = [f"q{i}" for i in range(k)]
    # holders talk throughout; q0 is the quietest
    t = 0.0
    routed: list[int | None] = []
    while t < 2.0:
        for i, user in enumerate(holders):
            router.route(user, t, QUIET + (5 if i == 0 else 0))
        if t >= 0.1:  # the loud one starts 100 ms in, before the min hold is over
            routed.append(router.route("loud", t, LOUD))
        t += 0.02
    first = next(i for i, slot in enumerate(routed) if slot is not None)
    took_at = 0.1 + first * 0.02
    assert took_at >= MIN_HOLD_S
    assert routed[first] == 0  # the quietest holder's slot
    assert all(slot == 0 for slot in routed[first:])  # and it keeps it
    assert router.holders()[0] == "loud"
    assert router.slots[0].generation == 2
    assert router.slot_of("q0") is None


def test_newcomer_within_margin_never_displaces() -> None:
    router = SlotRouter(1)
    level_gap = int(SWITCH_MARGIN_DB) - 2
    t = 0.0
    for _ in range(500):  # 10 s
        router.route("holder", t, QUIET)
        assert router.route("near", t + 0.01, QUIET - level_gap) is None
        t += 0.02
    assert router.holders() == ["holder"]


def test_similar_speakers_alternating_packets_do_not_flap() -> None:
    router = SlotRouter(1)
    seen = []
    t = 0.0
    for i in range(1000):
        # two speakers at the same volume, with packet-to-packet jitter of +-4 dB
        jitter = (-4, 0, 4, 1)[i % 4]
        seen.append(router.holders()[0])
        router.route("a", t, LOUD + jitter)
        router.route("b", t + 0.001, LOUD - jitter)
        t += 0.02
    assert router.slots[0].generation == 1
    assert set(seen[1:]) == {"a"}


def test_similar_speakers_taking_turns_switch_once_per_turn() -> None:
    router = SlotRouter(1)
    t = 0.0
    for turn in range(4):
        user = "ab"[turn % 2]
        routed = talk(router, user, t, 3.0, LOUD)
        assert routed[-1] == 0, turn  # the slot is theirs by the end of their turn
        t += 3.0
    assert router.slots[0].generation == 4


def test_holder_whose_packets_stop_is_released_after_idle() -> None:
    router = SlotRouter(1, idle_s=1.5, margin_db=100)  # no displacement by loudness
    talk(router, "a", 0.0, 1.0, QUIET)  # then nothing: no DTX packet said a stopped
    assert router.route("b", 2.0, QUIET) is None  # a was last active at ~1.0 s
    assert router.route("b", 2.6, QUIET) == 0
    assert router.slot_of("a") is None
    assert router.route("a", 2.7, SILENCE) is None


def test_holder_whose_microphone_goes_silent_yields_to_the_next_talker_at_once() -> None:
    """A holder whose packets turn silent (digital silence: a microphone switched off)
    has fallen quiet (`QUIET_S` is 0): the next talker takes the slot at its first
    packet, without out-shouting the holder's recent peak; while the holder talks, never."""
    assert QUIET_S == 0.0
    router = SlotRouter(1, margin_db=100)  # no displacement by loudness
    talk(router, "a", 0.0, 1.0, LOUD)
    assert router.route("b", 1.0, LOUD) is None  # a talks: no slot for b
    talk(router, "a", 1.0, 1.0, LOUD)
    assert router.route("b", 2.0, LOUD) is None
    # a stops: its first silent packet, then b's first packet takes the slot
    assert router.route("a", 2.02, SILENCE) == 0
    assert router.route("b", 2.03, LOUD) == 0  # well before a's idle_s
    assert router.slots[0].generation == 2
    # a's lone active packet after that takes nothing back (b holds it, talking)
    talk(router, "b", 2.04, 0.5, LOUD)
    assert router.route("a", 2.3, LOUD) is None


def test_holder_that_sends_dtx_yields_to_the_next_talker_at_once() -> None:
    """An Opus DTX packet (the sender's encoder found no voice) makes the holder quiet
    at once, whatever level its microphone hears; the comfort-noise refresh DTX sends
    every 400 ms is not talk, two active packets in a row are."""
    router = SlotRouter(1, margin_db=100)
    talk(router, "a", 0.0, 1.0, LOUD)
    assert router.route("a", 1.0, QUIET, dtx=True) == 0  # background noise, no voice
    assert router.route("b", 1.02, QUIET) == 0  # quieter than a's peak, and it takes the slot
    assert router.holders() == ["b"]
    # b now holds: its DTX pause, a lone comfort-noise refresh, DTX again
    talk(router, "b", 1.04, 1.0, LOUD)
    assert router.route("b", 2.04, QUIET, dtx=True) == 0
    assert router.route("b", 2.44, QUIET) == 0  # the refresh
    assert router.route("b", 2.46, QUIET, dtx=True) == 0
    assert router.route("a", 2.5, QUIET) == 0  # still quiet: a takes it
    # a talks on (two packets in a row): no longer quiet, a DTX packet of b's takes nothing
    talk(router, "a", 2.52, 0.04, LOUD)
    assert router.route("b", 2.57, QUIET, dtx=True) is None
    assert router.route("b", 2.58, LOUD) is None
    assert router.holders() == ["a"]
    # a DTX packet never takes a held slot, even a quiet holder's
    router.route("a", 2.6, QUIET, dtx=True)
    assert router.route("b", 2.62, QUIET, dtx=True) is None
    assert router.route("b", 2.64, LOUD) == 0


def test_quiet_holder_who_stopped_is_displaced_before_idle() -> None:
    router = SlotRouter(1, idle_s=10.0)
    talk(router, "a", 0.0, 1.0, LOUD)
    # a stops sending (DTX); its smoothed loudness decays, b's rises
    routed = talk(router, "b", 1.0, 2.0, LOUD)
    took = next(i for i, slot in enumerate(routed) if slot == 0)
    assert 0.1 < took * 0.02 < 1.0


def test_retain_frees_removed_speakers_slot_at_once() -> None:
    router = SlotRouter(2)
    assert router.route("a", 0.0, LOUD) == 0
    assert router.route("b", 0.0, LOUD) == 1
    assert router.route("c", 0.01, LOUD) is None
    router.retain(frozenset({"b", "c"}))  # a muted / demoted
    assert router.holders() == [None, "b"]
    assert router.route("c", 0.02, QUIET) == 0  # no hold time, no margin needed
    assert router.slots[0].generation == 2
    router.release("b")  # left the room
    assert router.holders() == ["c", None]
    assert router.loudness("b", 1.0) == 0.0


def test_packets_without_level_take_free_slots_but_never_displace() -> None:
    router = SlotRouter(1)
    assert router.route("plain", 0.0, None) == 0
    talk(router, "plain", 0.02, 2.0, None)
    assert talk(router, "loud", 0.03, 1.0, LOUD)[-1] == 0  # plain has no loudness
    router = SlotRouter(1)
    talk(router, "quiet", 0.0, 1.0, QUIET)
    assert set(talk(router, "plain", 0.01, 2.0, None)) == {None}


def test_loudness_smooths_and_decays() -> None:
    router = SlotRouter(1)
    router.route("a", 0.0, LOUD)
    assert 0 < router.loudness("a", 0.0) < 10  # one packet moves it a little
    talk(router, "a", 0.02, 2.0, LOUD)
    assert router.loudness("a", 2.0) == pytest.approx(127 - LOUD, abs=0.5)
    assert router.loudness("a", 3.0) < 127 - LOUD - 30  # a second of silence
    with pytest.raises(ValueError):
        SlotRouter(0)


def test_late_packets_do_not_cost_a_holder_its_slot() -> None:
    """A busy box delays every speaker's packets, then delivers them in a bunch: the
    holder, whose packets are read last, must not look quieter than the one read first."""
    router = SlotRouter(1)
    talk(router, "a", 0.0, 2.0, QUIET)
    talk(router, "b", 0.01, 2.0, QUIET)  # similar loudness: no slot for b
    assert router.holders() == ["a"]
    # a 250 ms stall: b's held-back packets are handled before a's
    routed = talk(router, "b", 2.25, 0.06, QUIET)
    assert set(routed) == {None}
    assert router.holders() == ["a"]
