"""Teach transfer learning on spoken words (espeak-ng, sox): background noise is never called a word, on a voice and
speeds the head never trained on."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from core.families.teach import data as teach_data
from core.families.teach import transfer

# ---------------------------------------------------------------- espeak-ng clips (subprocesses)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _word(path, word, voice, speed, noise_level, tmp):
    raw, clip, bed = tmp / "raw.wav", tmp / "clip.wav", tmp / "bed.wav"
    _run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), word)
    _run("sox", str(raw), str(clip), "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%",
         "reverse", "pad", "0.1", "1", "trim", "0", "1")  # fmt: skip
    _run(
        "sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(bed), "synth", "1", "pinknoise", "vol", str(noise_level)
    )
    _run("sox", "-m", str(clip), str(bed), "-r", "16000", "-b", "16", str(path))
    return teach_data.log_mel(teach_data.cut_chunks(teach_data.decode_wav(path.read_bytes()))[0])


def _noise(path, kind, level):
    _run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth", "1", kind, "vol", str(level))
    return teach_data.log_mel(teach_data.cut_chunks(teach_data.decode_wav(path.read_bytes()))[0])


@pytest.mark.integration
@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
def test_background_noise_is_not_called_a_word_on_unseen_voices(tmp_path):
    names = [teach_data.BACKGROUND, "no", "yes"]
    x_tr, y_tr, x_te, y_te = [], [], [], []
    for label, word in enumerate(names[1:], start=1):
        for voice in ("en-us", "en-gb+m3"):
            for speed in (140, 200):
                x_tr.append(_word(tmp_path / "w.wav", word, voice, speed, 0.01, tmp_path))
                y_tr.append(label)
        for speed in (120, 230):  # a voice and speeds never trained on, in a noisier room
            x_te.append(_word(tmp_path / "w.wav", word, "en-us+f2", speed, 0.05, tmp_path))
            y_te.append(label)
    for kind, level in (
        ("whitenoise", 0.01),
        ("pinknoise", 0.05),
        ("brownnoise", 0.2),
        ("pinknoise", 0.005),
    ):
        x_tr.append(_noise(tmp_path / "n.wav", kind, level))
        y_tr.append(0)
    for kind, level in [("whitenoise", 0.1), ("brownnoise", 0.02), ("pinknoise", 0.2)]:
        x_te.append(_noise(tmp_path / "n.wav", kind, level))
        y_te.append(0)
    model = transfer.fit("sound", np.stack(x_tr), np.array(y_tr), 3)
    pred = transfer.predict_proba("sound", model, np.stack(x_te)).argmax(1)
    y_te = np.array(y_te)
    assert (pred[y_te == 0] == 0).all(), "background noise was called a word"
    assert (pred[y_te != 0] != 0).all(), "a word was called background noise"
    assert np.mean(pred == y_te) >= 0.85
