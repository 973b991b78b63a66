"""Teach samples and projects made in code: photos, tones, drawings on a canvas, and a whole project folder of each
kind (the layout `python -m core teach` and the Teach page read)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
from PIL import Image

from core.families.teach import data as td


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def sine(freq: float, seconds: float, rate: int = td.SAMPLE_RATE, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


def canvas(box=(100, 180, 100, 110)) -> np.ndarray:
    """A 280x280 white RGBA canvas with a dark bar (the Draw page's input)."""
    rgba = np.full((280, 280, 4), 255, np.uint8)
    top, bottom, left, right = box
    rgba[top:bottom, left:right, :3] = 0
    return rgba


def write_project(root: Path, kind: str, per_class: int = 4, classes=("a", "b")) -> Path:
    """A project folder with easy classes: photos of two colours, drawings of a bar vs a box, tones vs noise."""
    rng = np.random.default_rng(1)
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            if kind == "image":
                colour = np.array([200, 40, 40] if c == 0 else [40, 40, 200])
                pixels = np.clip(colour + rng.normal(0, 20, (40, 50, 3)), 0, 255)
                (folder / f"{i}.png").write_bytes(png_bytes(pixels))
            elif kind == "drawing":
                box = (60, 220, 130, 150) if c == 0 else (60 + i, 200, 60, 220)
                img = canvas(box)
                if c == 1:
                    img[80:180, 80:200, :3] = 255  # a hollow box
                (folder / f"{i}.png").write_bytes(td.encode_png(img))
            else:
                sound = sine(300 + 400 * c + 10 * i, 1.0) if not td.is_background(name) else rng.normal(0, 0.05, 16000)
                (folder / f"{i}.wav").write_bytes(td.encode_wav(sound))
    return root


def wav_bytes(seconds: float, rate: int = 16000, freq: float = 440.0, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    frames = np.repeat(tone[:, None], channels, axis=1).tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def photo(color, fmt="JPEG", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(color) + rng.normal(0, 20, (48, 64, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def stored_project(owner: str, name: str, classes=("a", "b"), samples=(0, 0), kind: str = "drawing") -> None:
    """A Teach project in the database through the data-access layer, with `samples[i]` tiny stand-in files in class
    i (the store keeps bytes; nothing here decodes them)."""
    from core.store import access

    access.create_teach_project(owner, name, kind, list(classes), "2026-12-08T00:00:00+00:00", 20)
    for cls, n in zip(classes, samples):
        if n:
            access.add_teach_samples(owner, name, cls, [b"png"] * n, ".png", lambda row, have, n=n: n)
