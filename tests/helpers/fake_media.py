"""Chromium's fake webcam and microphone for the capture tests, made at test time: a Y4M video that alternates
colours (so a live preview's answer changes over time) and a WAV of spoken words from espeak-ng and sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np


def y4m_alternating(path: Path, colours, seconds_each: float = 1.5, fps: int = 10, size=(160, 120)) -> Path:
    """A looping Y4M (4:2:0) of flat, slightly noisy colours, each shown for `seconds_each` in turn."""
    width, height = size
    rng = np.random.default_rng(0)
    frames = []
    for rgb in colours:
        for _ in range(int(seconds_each * fps)):
            img = np.clip(np.array(rgb, float) + rng.normal(0, 12, (height, width, 3)), 0, 255)
            r, g, b = img[..., 0], img[..., 1], img[..., 2]
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = -0.169 * r - 0.331 * g + 0.5 * b + 128
            v = 0.5 * r - 0.419 * g - 0.081 * b + 128
            sub = lambda c: c.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))  # noqa: E731
            planes = [y, sub(u), sub(v)]
            frames.append(b"FRAME\n" + b"".join(np.clip(p + 0.5, 0, 255).astype(np.uint8).tobytes() for p in planes))
    header = f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"".join(frames))
    return path


def spoken_wav(path: Path, words: str = "yes no yes no yes no", gap_s: float = 0.4) -> Path:
    """Words spoken by espeak-ng with `gap_s` of silence between them, 16 kHz mono 16-bit (Chromium loops it)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed: scripts/test.sh installs it with apt-get.")
    raw = path.with_suffix(".espeak.wav")
    gap_units = int(gap_s * 100)  # espeak-ng's -g: the pause between words, in units of 10 ms
    subprocess.run(
        ["espeak-ng", "-g", str(gap_units), "-w", str(raw), words], check=True, timeout=60, capture_output=True
    )
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path), "pad", "0", str(gap_s)],
        check=True,
        timeout=60,
        capture_output=True,
    )
    raw.unlink(missing_ok=True)
    return path


def one_word_per_second(path: Path, word: str, voices=("en", "en-us", "en-gb-x-rp"), speeds=(130, 160, 190)) -> Path:
    """A WAV holding `word` once in each second (one second per voice and speed), 16 kHz mono 16-bit: cut into
    1-second samples it gives one spoken word each."""
    parts = []
    for i, (voice, speed) in enumerate((v, s) for v in voices for s in speeds):
        raw, second = path.with_suffix(f".{i}.raw.wav"), path.with_suffix(f".{i}.wav")
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), word],
            check=True,
            timeout=60,
            capture_output=True,
        )
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(second), "pad", "0.1", "1", "trim", "0", "1"],
            check=True,
            timeout=60,
            capture_output=True,
        )
        raw.unlink(missing_ok=True)
        parts.append(second)
    subprocess.run(["sox", *map(str, parts), str(path)], check=True, timeout=60, capture_output=True)
    for p in parts:
        p.unlink(missing_ok=True)
    return path


def room_noise_wav(path: Path, seconds: float = 9.0) -> Path:
    """Quiet pink noise, 16 kHz mono 16-bit: a room with nobody speaking."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "pinknoise",
            "vol",
            "0.02",
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return path
