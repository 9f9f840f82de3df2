"""Speech for `parlor bench quality`: made with espeak-ng, aligned and scored with PESQ-WB.

Pure signal work (numpy, scipy, pesq) plus two command-line tools, espeak-ng and sox.
Chromium plays a speaker's WAV file in a loop as its microphone
(`--use-file-for-fake-audio-capture`), from wherever the loop happens to be when the
capture opens; the listener records what it renders. `align` finds where in the loop
the recording starts (circular cross-correlation), `score` cuts the matching stretch of
the looped reference and hands both to PESQ (ITU-T P.862.2, wide band, 16 kHz), which
does its own fine, per-utterance alignment.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

RATE = 48000  # what Chromium captures and renders
PESQ_RATE = 16000

# Harvard sentences (IEEE 1969), public domain: phonetically balanced, ~2-3 s each.
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
)
# Two voices per speaker, so every file has a lower and a higher pitched talker.
VOICES = (("en-us", "en+f3"), ("en-gb", "en+f2"))


@dataclass(frozen=True)
class Speech:
    path: Path  # 48 kHz mono 16-bit WAV, for Chromium
    samples: np.ndarray  # the same, float in [-1, 1)

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def tools_missing() -> list[str]:
    return [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]


def make_speech(out: Path, sentences: int, speaker: int = 0, pause_s: float = 0.4) -> Speech:
    """`sentences` Harvard sentences, alternating two voices, each followed by a pause."""
    parts: list[Path] = []
    voices = VOICES[speaker % len(VOICES)]
    offset = 4 * speaker  # a second speaker says other sentences
    for i in range(sentences):
        text = SENTENCES[(offset + i) % len(SENTENCES)]
        raw = out.with_name(f"{out.stem}-{i}-raw.wav")
        part = out.with_name(f"{out.stem}-{i}.wav")
        subprocess.run(["espeak-ng", "-v", voices[i % 2], "-s", "150", "-w", str(raw), text], check=True)
        # 48 kHz mono, a gentle gain so peaks sit near -3 dBFS, and a pause after
        subprocess.run(
            ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(part),
             "norm", "-3", "pad", "0", str(pause_s)],
            check=True,
        )
        parts.append(part)
    subprocess.run(["sox", *map(str, parts), str(out)], check=True)
    for p in parts:
        p.unlink()
        p.with_name(p.name.replace(".wav", "-raw.wav")).unlink()
    return Speech(out, read_wav(out))


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != RATE:
            raise ValueError(f"{path}: want 48 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def to_pesq_rate(x: np.ndarray) -> np.ndarray:
    return np.asarray(resample_poly(x, 1, RATE // PESQ_RATE), dtype=np.float32)


def align(recording: np.ndarray, reference: np.ndarray) -> int:
    """Index into the looped `reference` of the recording's first sample (at RATE).

    Circular cross-correlation at 16 kHz through the FFT: the reference loops, so the
    recording is folded onto one period (its periods summed) first.
    """
    ref = to_pesq_rate(reference)
    rec = to_pesq_rate(recording)
    periods = -(-len(rec) // len(ref))
    rec = np.pad(rec, (0, periods * len(ref) - len(rec))).reshape(periods, len(ref)).sum(axis=0)
    corr = np.fft.irfft(np.fft.rfft(rec) * np.conj(np.fft.rfft(ref)), n=len(ref))
    # corr[k] = sum rec[t] * ref[t - k]: the recording's t is the reference's t - k
    k = int(np.argmax(corr))
    return (-k * (RATE // PESQ_RATE)) % len(reference)


def looped(reference: np.ndarray, start: int, length: int) -> np.ndarray:
    reps = (start + length) // len(reference) + 2
    return np.tile(reference, reps)[start : start + length]


def pesq_wb(reference: np.ndarray, degraded: np.ndarray) -> float:
    """PESQ-WB (P.862.2) MOS-LQO of two 48 kHz signals of the same length."""
    from pesq import pesq

    ref = to_pesq_rate(reference).astype(np.float64)
    deg = to_pesq_rate(degraded).astype(np.float64)
    score: Any = pesq(PESQ_RATE, ref, deg, "wb")
    return round(float(score), 3)


def score(recording: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """(PESQ-WB of the recording against the aligned looped reference, loop offset)."""
    start = align(recording, reference)
    return pesq_wb(looped(reference, start, len(recording)), recording), start


def aligned_reference(recording: np.ndarray, reference: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """The looped reference, aligned with the recording over the `windows` alone (the
    rest of the recording is another speaker, zeroed for the alignment)."""
    mask = np.zeros(len(recording), dtype=np.float32)
    for a, b in windows:
        mask[max(0, a) : max(0, b)] = 1.0
    start = align(recording * mask, reference)
    return looped(reference, start, len(recording))


def score_windows(
    recording: np.ndarray, reference: np.ndarray, windows: list[tuple[int, int]]
) -> float:
    """PESQ-WB of only the `windows` (sample ranges) of the recording, one speaker's turns.

    The offset into the looped reference is found over the windows alone; both signals
    are then cut to the same windows and joined.
    """
    ref = aligned_reference(recording, reference, windows)
    pieces = [(ref[a:b], recording[a:b]) for a, b in windows if b > a]
    return pesq_wb(np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))


SPEECH_DBFS = -35.0  # a 10 ms frame of the reference louder than this is speech
MISSING_DB = 15.0  # ... and missing from the recording if that much quieter there


def missing_speech(
    recording: np.ndarray, reference: np.ndarray, turns: list[tuple[int, int]], bins: list[tuple[float, float]]
) -> list[tuple[int, int]]:
    """Where in a turn speech goes missing: per bin (seconds after each turn starts),
    (frames missing, frames of speech), over all `turns` (sample ranges) of one speaker.

    `reference` must be aligned with the recording (`aligned_reference`). A 10 ms frame
    is speech if the reference is louder than `SPEECH_DBFS` there, and missing if the
    recording is `MISSING_DB` quieter: a turn whose start is cut, or whose words drop
    out, shows here where PESQ over the whole turn only drops.
    """
    frame = RATE // 100
    out = []
    for lo, hi in bins:
        missing = speech_frames = 0
        for start, stop in turns:
            a, b = start + int(lo * RATE), min(stop, start + int(hi * RATE), len(recording))
            n = max(0, (b - a) // frame)
            if n == 0:
                continue
            ref = reference[a : a + n * frame].reshape(n, frame)
            rec = recording[a : a + n * frame].reshape(n, frame)
            ref_db = 10 * np.log10(np.mean(ref * ref, axis=1) + 1e-12)
            rec_db = 10 * np.log10(np.mean(rec * rec, axis=1) + 1e-12)
            is_speech = ref_db > SPEECH_DBFS
            speech_frames += int(np.sum(is_speech))
            missing += int(np.sum(is_speech & (rec_db < ref_db - MISSING_DB)))
        out.append((missing, speech_frames))
    return out
