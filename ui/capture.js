// The Teach page's webcam and microphone (ui/teach_capture.py): hold to record a burst, or a live preview.
// One component, two modes (data.mode): "burst" sends the photos taken while the button is held (data.fps a second,
// each a centre square of data.side pixels as JPEG) or the sound recorded meanwhile (one 16-bit WAV) as one trigger
// "burst"; "live" sends a small photo, or the last second of sound, every data.every_ms as a trigger "frame", but
// never while the one before is still being classified: the server answers with data.served = that frame's number.
// The function runs again on every rerun with new data; what must outlive a rerun (the stream, timers) is kept on
// the component's root.

const KEY = "__mlxCapture";
const BUSY_GIVE_UP_MS = 15000; // a frame whose answer never came (a rerun lost) stops blocking the next one

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function wavDataUrl(samples, rate) {
  const n = samples.length;
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, "data"); v.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + 2 * i, s < 0 ? s * 32768 : s * 32767, true);
  }
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return "data:audio/wav;base64," + btoa(bin);
}

function toRate(x, from, to) {
  // Down to `to` Hz by averaging each output sample's span of input (a box low-pass, then decimation).
  if (from === to) return x;
  const ratio = from / to;
  const out = new Float32Array(Math.floor(x.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const a = Math.floor(i * ratio), b = Math.max(a + 1, Math.floor((i + 1) * ratio));
    let sum = 0;
    for (let j = a; j < b; j++) sum += x[j];
    out[i] = sum / (b - a);
  }
  return out;
}

function concat(chunks, total) {
  const out = new Float32Array(total);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

function say(s, text) { s.status.textContent = text; }

function grab(s, side, quality) {
  const v = s.video;
  if (!v || !v.videoWidth) return null;
  const sq = Math.min(v.videoWidth, v.videoHeight);
  const c = s.canvas || (s.canvas = document.createElement("canvas"));
  c.width = side; c.height = side;
  c.getContext("2d").drawImage(v, (v.videoWidth - sq) / 2, (v.videoHeight - sq) / 2, sq, sq, 0, 0, side, side);
  return c.toDataURL("image/jpeg", quality);
}

function onAudio(s, input) {
  const x = new Float32Array(input);
  s.ring.push(x); s.ringLen += x.length;
  while (s.ring.length > 1 && s.ringLen - s.ring[0].length >= s.rate) { s.ringLen -= s.ring.shift().length; }
  if (s.recording) {
    s.rec.push(x); s.recLen += x.length;
    say(s, `Recording… ${(s.recLen / s.rate).toFixed(1)} s`);
    if (s.recLen >= s.data.max_seconds * s.rate) end(s);
  }
}

async function start(s) {
  if (s.stream || s.starting) return;
  s.starting = true;
  const image = s.data.kind === "image";
  try {
    s.stream = await navigator.mediaDevices.getUserMedia(image
      ? { video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false }
      : { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false });
    if (image) {
      s.video.srcObject = s.stream;
      s.video.hidden = false;
      await s.video.play();
    } else {
      try { s.ctx = new AudioContext({ sampleRate: 16000 }); } catch (e) { s.ctx = new AudioContext(); }
      await s.ctx.resume();
      s.rate = s.ctx.sampleRate;
      const src = s.ctx.createMediaStreamSource(s.stream);
      const proc = s.ctx.createScriptProcessor(4096, 1, 1);
      proc.onaudioprocess = (e) => onAudio(s, e.inputBuffer.getChannelData(0));
      src.connect(proc);
      proc.connect(s.ctx.destination); // outputs silence; a processor must be connected to run
      s.proc = proc;
    }
    s.root.dataset.on = "1";
    say(s, s.data.mode === "burst" ? s.data.ready : "Live: classifying…");
  } catch (e) {
    say(s, `No ${image ? "webcam" : "microphone"}: ${e.message || e.name}`);
    s.stream = null;
  } finally {
    s.starting = false;
    draw(s);
  }
}

function stop(s) {
  end(s, false);
  clearInterval(s.liveTimer); s.liveTimer = null;
  if (s.stream) for (const t of s.stream.getTracks()) t.stop();
  s.stream = null;
  if (s.ctx) s.ctx.close();
  s.ctx = null; s.proc = null; s.ring = []; s.ringLen = 0;
  if (s.video) { s.video.srcObject = null; s.video.hidden = true; }
  s.root.dataset.on = "";
  draw(s);
}

function begin(s) {
  if (s.recording) return;
  if (!s.stream) { say(s, s.data.kind === "image" ? "Start the webcam first." : "Start the microphone first."); return; }
  s.recording = true;
  s.frames = []; s.rec = []; s.recLen = 0;
  s.hold.classList.add("on");
  if (s.data.kind === "image") {
    const shoot = () => {
      const f = grab(s, s.data.side, 0.9);
      if (f) s.frames.push(f);
      say(s, `Recording… ${s.frames.length} photo(s)`);
      if (s.frames.length >= s.data.max_frames) end(s);
    };
    shoot();
    s.shootTimer = setInterval(shoot, 1000 / s.data.fps);
  } else {
    say(s, "Recording… 0.0 s");
  }
}

function end(s, send = true) {
  if (!s.recording) return;
  s.recording = false;
  clearInterval(s.shootTimer); s.shootTimer = null;
  s.hold.classList.remove("on");
  if (!send) return;
  let frames = [];
  if (s.data.kind === "image") {
    frames = s.frames;
    if (!frames.length) { say(s, "No photo yet: the webcam is still starting."); return; }
    say(s, `Sent ${frames.length} photo(s).`);
  } else {
    if (s.recLen < 0.25 * s.rate) { say(s, "Too short: hold the button while you speak."); return; }
    frames = [wavDataUrl(toRate(concat(s.rec, s.recLen), s.rate, 16000), Math.min(s.rate, 16000))];
    say(s, `Sent ${(s.recLen / s.rate).toFixed(1)} s of sound.`);
  }
  s.frames = []; s.rec = []; s.recLen = 0;
  s.seq += 1;
  s.sent += 1;
  s.root.dataset.sent = String(s.sent);
  s.send("burst", { id: `${s.nonce}:${s.seq}`, frames });
}

function tick(s) {
  if (!s.stream) return;
  if (s.inFlight && Date.now() - s.inFlightAt < BUSY_GIVE_UP_MS) { s.dropped += 1; return; } // busy: drop this one
  let url = null;
  if (s.data.kind === "image") url = grab(s, s.data.side, 0.8);
  else if (s.ringLen >= s.rate) url = wavDataUrl(toRate(concat(s.ring, s.ringLen).subarray(s.ringLen - s.rate), s.rate, 16000), Math.min(s.rate, 16000));
  if (!url) return;
  s.seq += 1;
  s.inFlight = s.seq; s.inFlightAt = Date.now();
  s.root.dataset.sent = String(s.seq);
  s.send("frame", { id: s.nonce, seq: s.seq, url });
}

function draw(s) {
  const on = !!s.stream, image = s.data.kind === "image";
  if (s.data.mode === "burst") {
    s.toggle.textContent = on ? s.data.stop_label : s.data.start_label;
    s.hold.textContent = s.data.hold_label;
    s.hold.disabled = !on;
  } else {
    s.toggle.textContent = on ? "Stop the live preview" : `Live preview from your ${image ? "webcam" : "microphone"}`;
    clearInterval(s.liveTimer); s.liveTimer = null;
    if (on) s.liveTimer = setInterval(() => tick(s), s.data.every_ms);
  }
}

function build(root, data) {
  const s = {
    root: el("div", "cap"), data, seq: 0, sent: 0, inFlight: 0, inFlightAt: 0, dropped: 0,
    nonce: Math.random().toString(36).slice(2, 10), ring: [], ringLen: 0, rate: 16000,
    frames: [], rec: [], recLen: 0, recording: false,
  };
  s.root.dataset.mode = data.mode;
  if (data.kind === "image") {
    s.video = el("video");
    s.video.muted = true; s.video.playsInline = true; s.video.hidden = true;
    s.root.appendChild(s.video);
  }
  const row = el("div", "row");
  s.toggle = el("button", "toggle");
  s.toggle.type = "button";
  s.toggle.onclick = () => (s.stream ? stop(s) : start(s));
  row.appendChild(s.toggle);
  s.hold = el("button", "hold");
  s.hold.type = "button";
  if (data.mode === "burst") {
    const h = s.hold;
    h.addEventListener("pointerdown", (e) => { e.preventDefault(); try { h.setPointerCapture(e.pointerId); } catch (_) {} begin(s); });
    for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) h.addEventListener(ev, () => end(s));
    h.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); begin(s); } });
    h.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") end(s); });
    h.addEventListener("contextmenu", (e) => e.preventDefault());
    row.appendChild(h);
  }
  s.root.appendChild(row);
  s.status = el("div", "status");
  s.status.setAttribute("aria-live", "polite");
  s.root.appendChild(s.status);
  root.appendChild(s.root);
  return s;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let s = parentElement[KEY];
  if (!s) s = parentElement[KEY] = build(parentElement, data);
  const kindChanged = s.data.kind !== data.kind;
  s.data = data;
  s.send = setTriggerValue;
  if (kindChanged) stop(s);
  if (data.mode === "live" && s.inFlight && data.served >= s.inFlight) s.inFlight = 0; // answered: the next may go
  s.root.dataset.served = String(data.served || 0);
  if (!s.status.textContent) say(s, data.hint || "");
  draw(s);
  return () => stop(s);
}
