// The Draw page's answer in the browser (ui/draw_live.py mounts it): on every mouse-up on the drawing canvas it
// reads the canvas' pixels, prepares the 28x28 exactly as the server does (preprocess.js), runs the shipped shapes
// CNN in TensorFlow.js and draws the answer and the probability bars here, without waiting for the server. It tells
// the server "engine: browser" once the model answers; until then, or if TensorFlow.js cannot load, the server
// answers as before. Class names arrive as data and are only ever set as text.

const S = {
  args: null, // the latest component arguments (data, parentElement, setStateValue)
  prep: null, // the preprocessing module, imported with the same version stamp as this one
  loading: null,
  model: null,
  tf: null,
  failed: "",
  down: false,
  listening: false,
  seq: 0,
  answered: 0, // answers to a mouse-up (not to a new canvas or a page update)
  last: null, // { steps, probs, said, t0 } of the latest answer
  pollUntil: 0,
  canvas: null, // the composed 320x320 drawing of the latest answer, for tests (lastPng)
};
window.__mlxDrawLive = S; // the browser tests read the composed canvas through this

S.lastPng = () => (S.canvas ? S.canvas.toDataURL("image/png") : null);

function absolute(url) {
  return new URL(url, document.baseURI).href;
}

function deepQuery(root, selector) {
  const found = root.querySelector(selector);
  if (found) return found;
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) {
      const inner = deepQuery(el.shadowRoot, selector);
      if (inner) return inner;
    }
  }
  return null;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (window.tf) return resolve(window.tf);
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () => (window.tf ? resolve(window.tf) : reject(new Error("tf.min.js defined no tf")));
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

async function loadModel(data) {
  const tf = await loadScript(absolute(data.tfjs));
  // The CPU backend: this network is small (about 3.5 M multiply-adds), so plain JavaScript answers in a few
  // milliseconds, where WebGL adds a shader compile on first use and a GPU read-back stall on every answer
  // (measured in headless Chromium: cpu vs webgl in docs/benchmarks.md). WebGL stays the fallback.
  if (!(await tf.setBackend(data.backend || "cpu"))) await tf.setBackend("webgl");
  await tf.ready();
  const model = await tf.loadLayersModel(absolute(data.model));
  S.tf = tf;
  S.model = model;
  // Warm up on a drawn ring: the first calls compile the preprocessing and build the kernels (100+ ms each on a busy
  // machine), which must not land on the learner's first stroke.
  const size = data.size;
  const ring = new Uint8ClampedArray(size * size * 4).fill(255);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - size / 2, y - size / 2);
      if (Math.abs(r - size / 3) < 5) ring.fill(0, (y * size + x) * 4, (y * size + x) * 4 + 3);
    }
  }
  for (let i = 0; i < 3; i++) predict(S.prep.preprocessSteps(ring, size, size).image);
}

function report() {
  const a = S.args;
  if (!a || !a.data.model) return;
  const engine = S.model ? "browser" : S.failed ? `failed: ${S.failed}` : "";
  if (engine && a.data.engine !== engine) a.setStateValue("engine", engine);
}

function inBox(event) {
  const box = S.args && document.querySelector(`.st-key-${S.args.data.box}`);
  return !!box && event.composedPath().includes(box);
}

function listen() {
  if (S.listening) return;
  S.listening = true;
  document.addEventListener("pointerdown", (e) => (S.down = inBox(e)), true);
  document.addEventListener(
    "pointerup",
    (e) => {
      if (!S.down && !inBox(e)) return;
      S.down = false;
      const t0 = e.timeStamp; // the mouse-up, on performance.now()'s clock
      // pointerup comes before the canvas' own mouseup, which adds the stroke and asks for a frame to draw it:
      // so wait for that handler (a task), then for the frame, then read the pixels.
      setTimeout(() => requestAnimationFrame(() => answer(t0)), 0);
    },
    true,
  );
}

function readCanvas(box, size) {
  const container = document.querySelector(`.st-key-${box}`);
  const lower = container && deepQuery(container, "canvas.lower-canvas");
  if (!lower) return null;
  const out = document.createElement("canvas");
  out.width = size;
  out.height = size;
  const ctx = out.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, size, size);
  // The background and the strokes are two fabric canvases (both "lower-canvas"), stacked in this order.
  for (const layer of lower.getRootNode().querySelectorAll("canvas.lower-canvas")) {
    ctx.drawImage(layer, 0, 0, size, size);
  }
  S.canvas = out;
  return ctx.getImageData(0, 0, size, size).data;
}

function predict(image) {
  const tf = S.tf;
  return tf.tidy(() => {
    const x = tf.tensor(Float32Array.from(image), [1, 28, 28], "float32"); // 0-255: the model rescales itself
    return Array.from(S.model.predict(x).dataSync());
  });
}

function answer(t0) {
  const a = S.args;
  if (!a) return;
  if (!S.prep || (!S.model && !S.failed)) {
    root().dataset.engine = S.failed ? "failed" : "loading";
    return;
  }
  const { data } = a;
  const stamps = [performance.now()];
  const rgba = readCanvas(data.box, data.size);
  stamps.push(performance.now());
  const steps = rgba ? S.prep.preprocessSteps(rgba, data.size, data.size) : { status: "blank", image: null };
  stamps.push(performance.now());
  let probs = null;
  let said = null;
  if (steps.status === "ok" && S.model) {
    probs = predict(steps.image);
    said = S.prep.verdict(probs, data.class_names, data.min_confidence, data.other, data.none_of_these);
  }
  stamps.push(performance.now());
  // Where the time went, for the benchmark: waiting for the canvas' frame, reading it, preparing, predicting.
  const stages = t0 === null ? null : [stamps[0] - t0, stamps[1] - stamps[0], stamps[2] - stamps[1], stamps[3] - stamps[2]];
  S.last = { steps, probs, said, t0, stages };
  S.pollUntil = performance.now() + 10_000;
  paint();
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function shown() {
  // Answer here only once the server has stopped answering: it draws the same test ids in the page itself (outside
  // this shadow root) until the run after "engine: browser" reaches it.
  return !!S.model && !document.querySelector('[data-testid="draw-top"], [data-testid="draw-empty"]');
}

function root() {
  const parent = S.args.parentElement;
  let box = parent.querySelector("div.draw-live");
  if (!box) {
    box = el("div", "draw-live");
    box.setAttribute("data-testid", "draw-live");
    parent.appendChild(box);
  }
  box.classList.toggle("present", S.args.data.presenter === true); // presenter mode's floor (ui/draw_live.py's CSS)
  return box;
}

function paint() {
  const a = S.args;
  if (!a) return;
  const box = root();
  box.dataset.engine = S.model ? "browser" : S.failed ? "failed" : "loading";
  box.dataset.backend = S.tf ? S.tf.getBackend() : "";
  if (!shown()) {
    box.replaceChildren();
    if (S.model && S.last && performance.now() < S.pollUntil) requestAnimationFrame(paint);
    return;
  }
  const last = S.last || { steps: { status: "blank" } };
  const { steps, probs, said } = last;
  const parts = [];
  if (steps.status === "blank") {
    const h = el("h3", "empty", "Draw a shape");
    h.setAttribute("data-testid", "draw-empty");
    parts.push(h, el("p", "caption", "The answer appears here as soon as you lift the mouse."));
  } else if (steps.status !== "ok") {
    parts.push(headline(a.data.none_of_these, null), el("p", "warning", steps.message));
  } else {
    parts.push(headline(said.name, said.rejected ? null : said.confidence));
    if (said.rejected) parts.push(el("p", "caption", said.message));
    parts.push(bars(probs, said.index, a.data.shown_names));
  }
  if (steps.image) parts.push(inputPicture(steps.image));
  box.replaceChildren(...parts);
  box.dataset.status = steps.status;
  box.dataset.top = said ? said.name : steps.status === "blank" ? "" : a.data.none_of_these;
  box.dataset.input = steps.image ? Array.from(steps.image).join(",") : "";
  box.dataset.probs = probs ? probs.map((p) => p.toFixed(6)).join(",") : "";
  if (last.t0 !== null && last.t0 !== undefined) {
    // A mouse-up's answer: its time, where the time went, and a count the tests wait on.
    const ms = performance.now() - last.t0;
    box.dataset.latencyMs = ms.toFixed(1);
    box.dataset.stages = last.stages.map((v) => v.toFixed(1)).join(",");
    box.dataset.answered = String(++S.answered);
    console.log(`draw-live: mouse-up to answer ${ms.toFixed(1)} ms (${box.dataset.backend})`);
    last.t0 = null;
  }
  box.dataset.seq = String(++S.seq);
}

function headline(name, confidence) {
  const line = el("div", "answer");
  const b = el("b", "top", name);
  b.setAttribute("data-testid", "draw-top");
  if (confidence === null) {
    line.append(b);
  } else {
    line.append("It looks like a ", b, ` (${Math.round(confidence * 100)}% sure)`);
  }
  return line;
}

function bars(probs, winner, names) {
  const list = el("div", "bars");
  list.setAttribute("role", "list");
  list.setAttribute("aria-label", "Softmax over the classes");
  list.append(el("div", "bars-title", "Softmax over the classes"));
  probs.forEach((p, i) => {
    const row = el("div", i === winner ? "bar win" : "bar");
    row.setAttribute("role", "listitem");
    const fill = el("span", "fill");
    fill.style.width = `${(p * 100).toFixed(2)}%`;
    const track = el("span", "track");
    track.append(fill);
    row.append(el("span", "name", names[i]), track, el("span", "value", `${(p * 100).toFixed(1)}%`));
    list.append(row);
  });
  return list;
}

function inputPicture(image) {
  const fig = el("figure", "input");
  const c = el("canvas");
  c.width = 28;
  c.height = 28;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    img.data.set([image[i], image[i], image[i], 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  fig.append(c, el("figcaption", "", "What the network reads: your drawing as 28×28 numbers, white on black"));
  return fig;
}

export async function render(component) {
  S.args = component;
  listen();
  if (!component.data.model) {
    // Not the shipped model (a version of the user's own): the server answers, this shows nothing.
    root().replaceChildren();
    return;
  }
  if (!S.loading) {
    const version = new URL(import.meta.url).search;
    S.loading = import(new URL(`./preprocess.js${version}`, import.meta.url).href)
      .then((prep) => {
        S.prep = prep;
        return loadModel(component.data);
      })
      .catch((err) => {
        S.failed = String((err && err.message) || err).slice(0, 160) || "unknown error";
        console.warn(`draw-live: the in-browser model could not start (${S.failed}); the server answers instead`);
      });
  }
  await S.loading;
  report();
  // The data changed (a new canvas after Clear, the server's switch to "browser"): answer for the canvas as it is.
  requestAnimationFrame(() => answer(null));
}
