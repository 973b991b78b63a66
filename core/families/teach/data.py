"""Teach projects' data: a folder with one subfolder per class (Teachable Machine's layout), decoded into model
inputs: photos -> (S, S, 3) in [0, 1], drawings -> 28x28 white-on-black, recordings -> 1-second log-mel
spectrograms. NumPy + PIL + the stdlib `wave` only (no TensorFlow here); every cap is checked before decoding."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.inputs.canvas import preprocess_canvas
from core.settings import get_settings
from core.store import teach_cache
from core.store.topology import StoreError

KINDS = ("image", "sound", "drawing")
BACKGROUND = "background noise"  # Teachable Machine's audio projects require this class
SPEECH_COMMANDS_BACKGROUND = "_background_noise_"  # the Speech Commands dataset's folder for the same thing
IMAGE_SIZE = 32  # photos are learnt from scratch on a CPU (no pretrained network here): small keeps training seconds
DRAWING_SIZE = 28  # Google's numpy_bitmap size, the Draw page's too
SAMPLE_RATE = 16000
CHUNK_SECONDS = 1.0
CHUNK_SAMPLES = int(SAMPLE_RATE * CHUNK_SECONDS)
MIN_LAST_CHUNK_SECONDS = 0.5  # a trailing part shorter than this is dropped (see cut_chunks)
MIN_CLASSES, MAX_CLASSES = 2, 10
EXTENSIONS = {"image": (".png", ".jpg", ".jpeg"), "drawing": (".png",), "sound": (".wav",)}
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # what an upload may be; the folder layout holds PNG/JPEG
MAX_WAV_CHANNELS = 8
MIN_WAV_RATE, MAX_WAV_RATE = 4000, 384000

# The spectrogram: 25 ms Hann windows every 20 ms, 40 mel bands from 20 Hz to Nyquist (the classic speech front end,
# as in the Speech Commands keyword-spotting models).
N_FFT = 512
WINDOW = 400
HOP = 320
N_MELS = 40
MEL_FMIN = 20.0
LOG_FLOOR = 1e-6  # ln(1e-6) = -13.8: digital silence sits here instead of at -inf
N_FRAMES = 1 + (CHUNK_SAMPLES - WINDOW) // HOP  # 49


class TeachError(ValueError):
    """A Teach sample, folder or request that cannot be used, with a one-line message meant for the user."""


# ---------------------------------------------------------------- images and drawings


def _open_image(data: bytes, what: str, draft_side: int | None = None) -> Image.Image:
    """Open the header only, check the pixel count against the cap, then decode. With `draft_side`, a JPEG is decoded
    at the smallest 1/2, 1/4 or 1/8 scale still at least that many pixels a side (libjpeg's own reduced decode:
    a 25 MP photo in a fraction of the time, for a picture that ends up 32 pixels wide anyway)."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
        raise TeachError(f"The {what} is empty.")
    try:
        img = Image.open(io.BytesIO(bytes(data)), formats=IMAGE_FORMATS)  # lazy: reads the header only
    except Image.DecompressionBombError:  # PIL's own limit (178 M pixels), hit while reading the header
        raise TeachError(f"The {what} claims far more pixels than any photo; it is refused unread.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise TeachError(f"Could not read the {what}: it is not a PNG or JPEG image.") from None
    cap = get_settings().max_teach_image_pixels
    width, height = img.size
    if width < 1 or height < 1:
        raise TeachError(f"The {what} has no pixels ({width}x{height}).")
    if width * height > cap:
        raise TeachError(f"The {what} is {width}x{height} pixels; this server reads images of at most {cap:,} pixels.")
    if draft_side is not None and img.format == "JPEG":
        img.draft("RGB", (draft_side, draft_side))
    try:
        img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise TeachError(f"The {what} is damaged or truncated and cannot be decoded.") from None
    return img


def _on_white(img: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white (a transparent PNG's hidden colour is arbitrary)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def decode_image(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes -> (IMAGE_SIZE, IMAGE_SIZE, 3) float32 in [0, 1]: turned upright (EXIF), centre-cropped to a
    square, resized. Teachable Machine crops its webcam frames to a square the same way."""
    img = _open_image(data, "image", draft_side=4 * IMAGE_SIZE)  # 4x the final size: the resize still averages
    img = ImageOps.exif_transpose(img)  # a phone photo's pixels are stored sideways with a rotate flag
    img = _on_white(img)
    width, height = img.size
    side = min(width, height)
    box = ((width - side) // 2, (height - side) // 2, (width - side) // 2 + side, (height - side) // 2 + side)
    # reducing_gap: shrink by whole factors first (cheap box filter), then a bilinear step: fast and no aliasing.
    img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    return np.asarray(img, dtype=np.float32) / 255.0  # (S, S, 3)


def _border_mean(grey: np.ndarray) -> float:
    return float(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).mean())


def decode_drawing(data: bytes | np.ndarray) -> np.ndarray:
    """A drawing -> (28, 28) float32 in [0, 1], white strokes on black (Google's numpy_bitmap convention).

    Accepts the Draw canvas' RGBA array (H, W, 4) (dark ink on a light or transparent canvas; the Draw page's own
    preprocessing crops, centres and normalises the stroke width), or PNG bytes: a 28x28 bitmap is used as it is
    (inverted if it is dark-on-light), a larger picture is treated as a canvas (inverted first if it is light-on-dark).
    """

    if isinstance(data, np.ndarray):
        rgba = data
        if rgba.ndim != 3 or rgba.shape[2] not in (3, 4) or min(rgba.shape[:2]) < 1:
            raise TeachError(f"A drawing canvas must be an (H, W, 4) RGBA array (got shape {rgba.shape}).")
        cap = get_settings().max_canvas_pixels
        if rgba.shape[0] * rgba.shape[1] > cap:
            raise TeachError(f"The canvas has {rgba.shape[0] * rgba.shape[1]:,} pixels; at most {cap:,} are read.")
        if not np.issubdtype(rgba.dtype, np.number) or not np.isfinite(rgba).all():
            raise TeachError("The canvas holds values that are not finite numbers.")
    else:
        img = _open_image(data, "drawing")
        grey = np.asarray(_on_white(img).convert("L"), dtype=np.float32)  # (H, W), 0 black .. 255 white
        if grey.shape == (DRAWING_SIZE, DRAWING_SIZE):
            if _border_mean(grey) > 127:  # light paper: a dark-on-light bitmap
                grey = 255.0 - grey
            return grey / 255.0
        if _border_mean(grey) < 128:  # a light-on-dark picture: the canvas pipeline wants dark ink on light paper
            grey = 255.0 - grey
        rgba = np.dstack([np.repeat(grey[..., None], 3, axis=2), np.full(grey.shape, 255.0)]).astype(np.uint8)
    image = preprocess_canvas(np.asarray(rgba))
    if image is None:
        raise TeachError("The drawing is blank: draw something first.")
    return image.astype(np.float32) / 255.0  # (28, 28)


def encode_png(array: np.ndarray) -> bytes:
    """(H, W), (H, W, 3) or (H, W, 4) -> PNG bytes; floats are read as 0-1, integers as 0-255."""
    a = np.asarray(array)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise TeachError(f"An image to save must be (H, W), (H, W, 3) or (H, W, 4) (got shape {a.shape}).")
    if a.dtype.kind == "f":
        a = np.clip(np.nan_to_num(a) * 255.0 + 0.5, 0, 255)
    a = np.clip(a, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- sound


def _pcm_to_float(raw: bytes, width: int) -> np.ndarray:
    """Little-endian PCM frames -> float32 in [-1, 1]. WAV's 8-bit is unsigned; 16/24/32-bit are signed."""
    if width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if width == 3:  # no 24-bit dtype: place the three bytes in the top of an int32 and shift back (keeps the sign)
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        return ((b[:, 0] << 8 | b[:, 1] << 16 | b[:, 2] << 24) >> 8).astype(np.float32) / 8388608.0
    return np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648.0


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample by linear interpolation (np.interp). Going down, a Hann-windowed sinc low-pass at 90% of the new
    Nyquist frequency (63 taps) runs first, so what the new rate cannot hold is removed instead of folding back as
    aliases. No scipy/librosa here; for 1-second speech this is plenty."""
    x = np.asarray(samples, dtype=np.float32)
    if rate == target or len(x) == 0:
        return x
    if target < rate:
        cutoff = 0.9 * (target / 2) / rate  # cycles per input sample
        taps = np.arange(63) - 31
        kernel = np.sinc(2 * cutoff * taps) * np.hanning(63)
        x = np.convolve(x, (kernel / kernel.sum()).astype(np.float32), mode="same")
    n_out = max(1, int(round(len(x) * target / rate)))
    t_out = np.arange(n_out, dtype=np.float64) * (rate / target)
    return np.interp(t_out, np.arange(len(x)), x).astype(np.float32)


def decode_wav(data: bytes) -> np.ndarray:
    """WAV bytes (PCM 8/16/24/32-bit, any channels and rate) -> mono float32 at SAMPLE_RATE in [-1, 1].

    The duration in the header is checked against the cap before any frame is read; float or compressed WAVs are
    refused with a plain message (export them as 16-bit PCM)."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
        raise TeachError("The recording is empty.")
    data = bytes(data)
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TeachError("The recording is not a WAV file (it must start with a RIFF/WAVE header).")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            if not 1 <= channels <= MAX_WAV_CHANNELS:
                raise TeachError(f"The recording has {channels} channels; at most {MAX_WAV_CHANNELS} are read.")
            if width not in (1, 2, 3, 4):
                raise TeachError(f"The recording has {8 * width}-bit samples; use 8, 16, 24 or 32-bit PCM.")
            if not MIN_WAV_RATE <= rate <= MAX_WAV_RATE:
                raise TeachError(f"The recording's sample rate {rate} Hz is not one a microphone records.")
            seconds, cap = frames / rate, get_settings().max_teach_wav_seconds
            if seconds > cap:
                raise TeachError(f"The recording is {seconds:.0f} s long; this server reads at most {cap:g} s.")
            raw = w.readframes(frames)
    except TeachError:
        raise
    except wave.Error as exc:
        word = str(exc)
        if "unknown format" in word:  # e.g. 3 = IEEE float, 6/7 = A-law/mu-law, 0xFFFE = extensible
            raise TeachError(
                f"The WAV file's encoding is not plain PCM ({word}); export it as 16-bit PCM WAV."
            ) from None
        raise TeachError(f"The WAV file is damaged ({word}).") from None
    except (EOFError, OSError, ValueError, OverflowError, RuntimeError, struct.error):  # wave's ways of failing
        raise TeachError("The WAV file is damaged or truncated.") from None
    whole = len(raw) // (width * channels) * (width * channels)  # a truncated file: the frames that are there
    if whole == 0:
        raise TeachError("The recording holds no audio (the WAV file may be truncated).")
    samples = _pcm_to_float(raw[:whole], width).reshape(-1, channels).mean(axis=1)  # (frames,) mono
    return resample(samples, rate)


def encode_wav(samples: np.ndarray) -> bytes:
    """Mono samples in [-1, 1] at SAMPLE_RATE -> 16-bit PCM WAV bytes (what the page's recorder store writes)."""
    x = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float64).reshape(-1)), -1.0, 1.0)
    pcm = np.round(x * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def cut_chunks(samples: np.ndarray) -> list[np.ndarray]:
    """1-second chunks (CHUNK_SAMPLES each), as Teachable Machine turns a recording into 1-second samples.

    Every whole second is a chunk, silent or not (a silent second of "background noise" is a real sample). The last
    partial second is zero-padded into a chunk if it is at least MIN_LAST_CHUNK_SECONDS long, and dropped otherwise
    (a few hundred ms of tail is mostly padding); a recording shorter than a second is padded into one chunk."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if len(x) == 0:
        raise TeachError("The recording holds no audio.")
    whole, rest = divmod(len(x), CHUNK_SAMPLES)
    chunks = [x[i * CHUNK_SAMPLES : (i + 1) * CHUNK_SAMPLES] for i in range(whole)]
    if rest and (whole == 0 or rest >= MIN_LAST_CHUNK_SECONDS * SAMPLE_RATE):
        chunks.append(np.pad(x[whole * CHUNK_SAMPLES :], (0, CHUNK_SAMPLES - rest)))
    return chunks


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)  # HTK's mel scale


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular filters, equally spaced on the mel scale, each peaking at 1.

    Written out because neither librosa nor scipy is installed, and tf.signal would pull TensorFlow into data
    loading; it is the textbook (HTK) construction."""
    bins_hz = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(MEL_FMIN), _hz_to_mel(rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bins_hz[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


_MEL = mel_filterbank()
_HANN = np.hanning(WINDOW).astype(np.float32)


def log_mel(chunk: np.ndarray) -> np.ndarray:
    """One 1-second chunk -> (N_FRAMES, N_MELS) = (49, 40) float32: ln of the mel-band power (+ LOG_FLOOR).

    The power is scaled by the window's energy, so a full-scale sine reads about ln(0.25) whatever N_FFT is. This
    spectrogram is the deployed model's input, so the TF.js export runs without any audio code inside the model."""
    x = np.asarray(chunk, dtype=np.float32).reshape(-1)
    if len(x) != CHUNK_SAMPLES:
        x = np.pad(x[:CHUNK_SAMPLES], (0, max(0, CHUNK_SAMPLES - len(x))))
    starts = np.arange(N_FRAMES) * HOP
    frames = x[starts[:, None] + np.arange(WINDOW)] * _HANN  # (49, 400)
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2 / float(_HANN.sum()) ** 2  # (49, 257)
    return np.log(power.astype(np.float32) @ _MEL + LOG_FLOOR).astype(np.float32)  # (49, 40)


# ---------------------------------------------------------------- a project folder


def is_background(name: str) -> bool:
    """Is this class the background-noise class (Teachable Machine's name, any case, or Speech Commands' folder)?"""
    return name.strip().lower() in (BACKGROUND, SPEECH_COMMANDS_BACKGROUND)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise TeachError(f"Unknown kind {kind!r}: choose one of {', '.join(KINDS)}.")
    return kind


def check_classes(kind: str, names: list[str], min_classes: int = MIN_CLASSES) -> None:
    """2-10 classes; a sound project also needs its background-noise class (Teachable Machine's rule: the model
    must learn what 'none of my words' sounds like)."""
    if len(names) < min_classes:
        raise TeachError(f"A project needs at least {min_classes} classes (one subfolder each); found {len(names)}.")
    if len(names) > MAX_CLASSES:
        raise TeachError(f"A project has at most {MAX_CLASSES} classes; found {len(names)}.")
    if kind == "sound" and min_classes >= MIN_CLASSES and not any(is_background(n) for n in names):
        raise TeachError(f"A sound project needs a class named {BACKGROUND!r} (recordings of the room, no words).")


def _sample_files(folder: Path, kind: str) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS[kind]
    )


def _decode_file(kind: str, path: Path) -> list[np.ndarray]:
    """The model inputs one sample file gives (several for a long recording); errors name the file."""
    data = path.read_bytes()
    try:
        if kind == "image":
            return [decode_image(data)]
        if kind == "drawing":
            return [decode_drawing(data)]
        return [log_mel(c) for c in cut_chunks(decode_wav(data))]
    except TeachError as exc:
        raise TeachError(f"{path.parent.name}/{path.name}: {exc}") from None


def scan_folder(kind: str, folder: str | Path, min_classes: int = MIN_CLASSES) -> dict[str, list[Path]]:
    """A project folder's sample files by class (sorted subfolder names), checked from the file system alone: the
    classes (2-10, a background class for sound), no empty class, the number of files and their total size. Nothing
    is read or decoded, so a page can refuse a project at once and leave the decoding to the queued job (issue 25)."""
    check_kind(kind)
    if not str(folder).strip():
        raise TeachError("The project folder is empty: give the folder that holds one subfolder per class.")
    root = Path(folder)
    try:
        teach_cache.fill_cache(root)  # a Teach project's cache folder is brought up to date from its rows first
    except StoreError as error:
        raise TeachError(str(error)) from None
    if not root.is_dir():
        raise TeachError(f"There is no project folder at {root}.")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    check_classes(kind, names, min_classes)
    settings = get_settings()
    per_class = {name: _sample_files(root / name, kind) for name in names}
    empty = [name for name, files in per_class.items() if not files]
    if empty:
        what = "/".join(EXTENSIONS[kind]).replace(".", "").upper()
        raise TeachError(f"The class {empty[0]!r} has no samples ({what} files) in its folder.")
    n_files = sum(len(f) for f in per_class.values())
    if n_files > settings.max_teach_files:
        raise TeachError(
            f"The project has {n_files:,} samples; this server reads at most {settings.max_teach_files:,}."
        )
    total = sum(p.stat().st_size for files in per_class.values() for p in files)
    if total > settings.max_teach_mb * 2**20:
        raise TeachError(
            f"The project's samples take {total / 2**20:.0f} MB; this server reads at most {settings.max_teach_mb:g} MB."
        )
    return per_class


def load_folder(kind: str, folder: str | Path, min_classes: int = MIN_CLASSES) -> dict:
    """A project folder -> {"x": model inputs (float32), "y": class ids, "class_names": sorted subfolder names,
    "files": each row's sample file, "skipped": files that are not samples of this kind}.

    A sound file gives one row per 1-second chunk (its path repeated). Caps on the number of files and their total
    size are checked from the file system before anything is read (scan_folder)."""
    per_class = scan_folder(kind, folder, min_classes)
    root, names = Path(folder), list(per_class)
    xs, ys, files = [], [], []
    for label, name in enumerate(names):
        for path in per_class[name]:
            rows = _decode_file(kind, path)
            xs.extend(rows)
            ys.extend([label] * len(rows))
            files.extend([str(path)] * len(rows))
    skipped = sorted(
        str(p)
        for name in names
        for p in (root / name).iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in EXTENSIONS[kind]
    )
    return {
        "x": np.stack(xs).astype(np.float32),
        "y": np.asarray(ys, dtype=np.int64),
        "class_names": names,
        "files": files,
        "skipped": skipped,
        "kind": kind,
    }


def input_shape(kind: str) -> tuple[int, ...]:
    """The model input of one sample of `kind`."""
    check_kind(kind)
    return {
        "image": (IMAGE_SIZE, IMAGE_SIZE, 3),
        "drawing": (DRAWING_SIZE, DRAWING_SIZE),
        "sound": (N_FRAMES, N_MELS),
    }[kind]
