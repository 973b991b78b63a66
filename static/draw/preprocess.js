// The Draw page's preprocessing in the browser: a port of core/inputs/canvas.py (canvas RGBA -> the 28x28
// white-on-black image the shapes model reads), step for step, including Pillow's resampling in integer
// arithmetic, so the same canvas gives the same 28x28 as the server (tests/browser/test_draw_in_browser.py).
// Math.fround marks every place NumPy computes in float32.

export const IMAGE_SIZE = 28;
export const MARGIN = 2;
export const INK_THRESHOLD = 0.15;
export const MIN_INK_FRACTION = 0.03;
export const SCRIBBLE_FRACTION = 0.45;
export const UPSCALE = 8;
export const STROKE_WIDTH = 1.8;

const f32 = Math.fround;
const INK_SCALE = f32(1.0 / (765 * 255));

// Python's round(): halves go to the even neighbour.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// canvas_ink for uint8 RGBA: (765 - r - g - b) * alpha in integers, times 1/(765*255) in float32.
export function canvasInk(rgba, width, height) {
  const ink = new Float32Array(width * height);
  for (let i = 0, p = 0; i < ink.length; i++, p += 4) {
    ink[i] = (765 - rgba[p] - rgba[p + 1] - rgba[p + 2]) * rgba[p + 3] * INK_SCALE; // stored as float32
  }
  return ink;
}

// ink_box: [top, bottom, left, right] of ink above the threshold (exclusive ends), or null.
export function inkBox(ink, width, height, threshold = INK_THRESHOLD) {
  const t = f32(threshold);
  let top = -1, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > t) {
        if (top < 0) top = y;
        bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return top < 0 ? null : [top, bottom + 1, left, right + 1];
}

// stroke_width: 2 * area / boundary pixels of a 0/1 mask.
export function strokeWidth(mask, w, h) {
  let area = 0, boundary = 0;
  const at = (y, x) => (y >= 0 && y < h && x >= 0 && x < w ? mask[y * w + x] : 0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      area++;
      if (!(at(y - 1, x) && at(y + 1, x) && at(y, x - 1) && at(y, x + 1))) boundary++;
    }
  }
  return (2.0 * area) / Math.max(boundary, 1);
}

// _square_filter: max (widen, the mask grows by k on every side) or min (thin) over a (2k+1) square, separably.
function squareFilter(mask, w, h, k, widen) {
  let src = mask, sw = w, sh = h;
  if (widen) {
    sw = w + 2 * k;
    sh = h + 2 * k;
    src = new Uint8Array(sw * sh);
    for (let y = 0; y < h; y++) src.set(mask.subarray(y * w, y * w + w), (y + k) * sw + k);
  }
  const outside = widen ? 0 : 1;
  const get = (a, y, x, aw, ah) => (y < 0 || y >= ah || x < 0 || x >= aw ? outside : a[y * aw + x]);
  const rows = new Uint8Array(sw * sh);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      let v = widen ? 0 : 1;
      for (let d = -k; d <= k; d++) {
        const s = get(src, y + d, x, sw, sh);
        v = widen ? v | s : v & s;
      }
      rows[y * sw + x] = v;
    }
  }
  const out = new Uint8Array(sw * sh);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      let v = widen ? 0 : 1;
      for (let d = -k; d <= k; d++) {
        const s = get(rows, y, x + d, sw, sh);
        v = widen ? v | s : v & s;
      }
      out[y * sw + x] = v;
    }
  }
  return { mask: out, w: sw, h: sh };
}

// Pillow's resampling of an 8-bit ("L") image (libImaging/Resample.c): coefficients per output pixel, normalised
// to 22-bit integers, a horizontal pass then a vertical pass, each rounded to uint8.
const PRECISION_BITS = 32 - 8 - 2;
const FILTERS = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: { support: 1.0, f: (x) => ((x = Math.abs(x)) < 1.0 ? 1.0 - x : 0.0) },
};

function precomputeCoeffs(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(xmax);
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.f((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0.0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss) {
  if (ss >= 2 ** (PRECISION_BITS + 8)) return 255;
  if (ss <= 0) return 0;
  return Math.floor(ss / 2 ** PRECISION_BITS);
}

// Image.resize((nw, nh), BOX or BILINEAR) of a w x h uint8 image.
export function resizeL(src, w, h, nw, nh, filterName) {
  if (nw === w && nh === h) return Uint8Array.from(src);
  const filter = FILTERS[filterName];
  let cur = src;
  if (nw !== w) {
    const { ksize, bounds, kk } = precomputeCoeffs(w, nw, filter);
    const out = new Uint8Array(nw * h);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < nw; xx++) {
        const xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1];
        let ss = 1 << (PRECISION_BITS - 1);
        for (let x = 0; x < xmax; x++) ss += cur[y * w + x + xmin] * kk[xx * ksize + x];
        out[y * nw + xx] = clip8(ss);
      }
    }
    cur = out;
  }
  if (nh !== h) {
    const { ksize, bounds, kk } = precomputeCoeffs(h, nh, filter);
    const out = new Uint8Array(nw * nh);
    for (let yy = 0; yy < nh; yy++) {
      const ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1];
      for (let xx = 0; xx < nw; xx++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < ymax; y++) ss += cur[(y + ymin) * nw + xx] * kk[yy * ksize + y];
        out[yy * nw + xx] = clip8(ss);
      }
    }
    cur = out;
  }
  return cur;
}

// fit_to_frame: scale the cropped ink to fill the frame, normalise the stroke width at UPSCALE x, box it down.
export function fitToFrame(crop, w, h, size = IMAGE_SIZE, margin = MARGIN) {
  const big = UPSCALE * size, inner = UPSCALE * (size - 2 * margin);
  const scale = inner / Math.max(h, w);
  const nh = Math.max(1, roundHalfEven(h * scale)), nw = Math.max(1, roundHalfEven(w * scale));
  const img = new Uint8Array(w * h);
  for (let i = 0; i < img.length; i++) img[i] = Math.min(Math.max(f32(crop[i] * 255.0), 0), 255); // truncated
  const small = resizeL(img, w, h, nw, nh, scale > 1 ? "bilinear" : "box");
  let peak = 0;
  for (const v of small) peak = Math.max(peak, v);
  if (peak <= 0) return new Uint8Array(size * size);
  const cut = f32(0.35 * peak);
  let mask = new Uint8Array(small.length);
  for (let i = 0; i < small.length; i++) mask[i] = small[i] > cut ? 1 : 0;
  let mw = nw, mh = nh;
  const k = Math.trunc(roundHalfEven((STROKE_WIDTH * UPSCALE - strokeWidth(mask, nw, nh)) / 2));
  if (k > 0) {
    ({ mask, w: mw, h: mh } = squareFilter(mask, nw, nh, k, true));
  } else if (k < 0) {
    const thinner = squareFilter(mask, nw, nh, -k, false).mask;
    if (thinner.some((v) => v)) mask = thinner; // never thin a drawing away
  }
  const pad = Math.max(k, 0);
  const t0 = Math.floor((big - nh) / 2) - pad, l0 = Math.floor((big - nw) / 2) - pad;
  const frame = new Uint8Array(big * big);
  const y0 = Math.max(t0, 0), x0 = Math.max(l0, 0);
  const y1 = Math.min(t0 + mh, big), x1 = Math.min(l0 + mw, big);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) frame[y * big + x] = mask[(y - t0) * mw + (x - l0)] * 255;
  }
  const out = resizeL(frame, big, big, size, size, "box");
  let top = 0;
  for (const v of out) top = Math.max(top, v);
  if (top <= 0) return out;
  const gain = f32(255.0 / top);
  const image = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) image[i] = Math.min(Math.max(f32(out[i] * gain), 0), 255);
  return image;
}

// preprocess_steps: { status: "blank" | "dot" | "scribble" | "ok", message, image (784 uint8 or null), box }.
export function preprocessSteps(rgba, width, height) {
  const ink = canvasInk(rgba, width, height);
  const box = inkBox(ink, width, height);
  if (box === null) return { status: "blank", message: "Draw a shape", image: null, box: null };
  const [top, bottom, left, right] = box;
  const h = bottom - top, w = right - left;
  const crop = new Float32Array(w * h);
  const t = f32(INK_THRESHOLD);
  let inked = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = ink[(y + top) * width + x + left];
      crop[y * w + x] = v;
      if (v > t) inked++;
    }
  }
  const image = fitToFrame(crop, w, h);
  if (Math.max(h, w) < Math.max(6, MIN_INK_FRACTION * Math.max(width, height))) {
    return { status: "dot", message: "That is just a dot: draw a whole shape, bigger than a few pixels.", image, box };
  }
  const coverage = inked / (w * h);
  const boxShare = (h * w) / (width * height);
  if (coverage > SCRIBBLE_FRACTION && boxShare > 0.5) {
    const pct = Math.round(coverage * 100);
    return {
      status: "scribble",
      message: `That looks like a scribble over the canvas (${pct}% of it is ink): clear it and draw one shape.`,
      image,
      box,
    };
  }
  return { status: "ok", message: "", image, box };
}

// core.families.shapes.verdict.verdict: the answer, "none of these" when OTHER wins or nothing reaches minConfidence.
export function verdict(probs, classNames, minConfidence, other, noneOfThese) {
  let top = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[top]) top = i;
  const otherAt = classNames.indexOf(other);
  const pct = (p) => `${Math.round(p * 100)}%`;
  if (otherAt >= 0 && (top === otherAt || probs[top] < minConfidence)) {
    let best = -1;
    for (let i = 0; i < probs.length; i++) if (i !== otherAt && (best < 0 || probs[i] > probs[best])) best = i;
    const why =
      top === otherAt
        ? `it looks most like the drawings of other things it learned from (${pct(probs[top])})`
        : `its best guess, ${classNames[best]}, is only ${pct(probs[best])} sure`;
    return { index: otherAt, name: noneOfThese, confidence: probs[top], rejected: true, message: `None of the shapes I know: ${why}.` };
  }
  return { index: top, name: classNames[top], confidence: probs[top], rejected: false, message: "" };
}
