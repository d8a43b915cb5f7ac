// LRDM layout editor: the editor's state as plain data, with no DOM and no ComfyUI imports (node can test it).
// The state mirrors lrdm_core/layout.py's JSON schema v1: {version, objects: [{phrase, box: [x0, y0, x1, y1]
// normalised xyxy with the origin top-left, z?, locked?, color?}], background?, prompt?, ...}.
// Every edit returns a new state; serialize() gives the text stored in the node's layout_json widget.

export const LAYOUT_VERSION = 1;
export const MAX_OBJECTS = 16;
export const DIGITS = 5; // decimals of a normalised coordinate (1e-5 of a 8192 px canvas is < 0.1 px)
// lrdm_core/layout.py's caps on untrusted layouts: text above MAX_JSON_CHARS is not parsed at all; a layout over
// the other caps is shown read-only with a banner (the backend refuses it), never edited into something else.
export const MAX_JSON_CHARS = 100_000;
export const MAX_PHRASE_CHARS = 1_000;
export const MAX_TEXT_CHARS = 10_000; // background, prompt
export const LABEL_CHARS = 48; // a box label is cut to this many characters before it is measured

// lrdm_core/preview.py PALETTE, so the canvas and LRDM_LayoutPreview use the same colours.
const PALETTE_RGB = [[0.90, 0.10, 0.29], [0.24, 0.71, 0.29], [0.26, 0.39, 0.85], [1.00, 0.88, 0.10],
  [0.96, 0.51, 0.19], [0.57, 0.12, 0.71], [0.27, 0.94, 0.94], [0.94, 0.20, 0.90]];
export const PALETTE = PALETTE_RGB.map((c) => "#" + c.map((v) => Math.round(v * 255).toString(16).padStart(2, "0")).join(""));

export const emptyState = () => ({ version: LAYOUT_VERSION, objects: [], extra: {} });

const isColor = (c) => typeof c === "string" && /^#[0-9a-fA-F]{6}$/.test(c);
const round = (v) => Number(v.toFixed(DIGITS));
const clamp01 = (v) => Math.min(1, Math.max(0, v));

/** Parse widget text into {state} or {error, state?}: never throws; `state` is set when the text can be shown. */
export function parseLayout(text) {
  if (typeof text !== "string" || !text.trim()) return { state: emptyState() };
  if (text.length > MAX_JSON_CHARS) {
    return { error: `${text.length} characters of layout JSON, more than the ${MAX_JSON_CHARS} LRDM accepts` };
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { error: `not valid JSON (${e.message})` };
  }
  if (Array.isArray(data)) data = { objects: data };
  if (!data || typeof data !== "object") return { error: "expected a JSON object with an \"objects\" list" };
  const version = data.version ?? LAYOUT_VERSION;
  if (!Number.isInteger(version) || version < 1) return { error: `bad "version" ${JSON.stringify(version)}` };
  if (!Array.isArray(data.objects)) return { error: "no \"objects\" list (see the LRDM layout schema)" };
  const { objects, version: _v, units, ...extra } = data;
  let sx = 1, sy = 1;
  if (units === "px") {
    if (!(data.width > 0 && data.height > 0)) return { error: "\"units\": \"px\" needs \"width\" and \"height\"" };
    sx = data.width; sy = data.height;
  }
  const out = [];
  for (const [i, o] of objects.entries()) {
    if (!o || typeof o !== "object" || !Array.isArray(o.box) || o.box.length !== 4 ||
        !o.box.every((v) => typeof v === "number" && Number.isFinite(v))) {
      return { error: `object ${i + 1} needs "box": [x0, y0, x1, y1] (four numbers)` };
    }
    const box = [o.box[0] / sx, o.box[1] / sy, o.box[2] / sx, o.box[3] / sy];
    out.push({ ...o, phrase: typeof o.phrase === "string" ? o.phrase : String(o.phrase ?? ""), box });
  }
  const state = { version, objects: out, extra };
  if (version > LAYOUT_VERSION) return { state, readOnly: true, error: `made by a newer LRDM (layout version ${version})` };
  const over = overCaps(state);
  if (over) return { state, readOnly: true, error: `${over}; LRDM refuses it` };
  return { state };
}

/** The first cap of lrdm_core/layout.py that a parsed state breaks, as a short message, or "". */
function overCaps(state) {
  const n = state.objects.length;
  if (n > MAX_OBJECTS) return `${n} boxes, more than ${MAX_OBJECTS}`;
  const i = state.objects.findIndex((o) => o.phrase.length > MAX_PHRASE_CHARS);
  if (i >= 0) return `the phrase of box ${i + 1} has ${state.objects[i].phrase.length} characters, more than ${MAX_PHRASE_CHARS}`;
  for (const key of ["background", "prompt"]) {
    const v = state.extra[key];
    if (typeof v === "string" && v.length > MAX_TEXT_CHARS) return `the ${key} has ${v.length} characters, more than ${MAX_TEXT_CHARS}`;
  }
  return "";
}

/** A box label that fits `maxW` px: cut to LABEL_CHARS first, then to the width by bisection (few measures). */
export function fitLabel(label, maxW, measure) {
  let text = label.length > LABEL_CHARS ? label.slice(0, LABEL_CHARS - 1) + "…" : label;
  if (measure(text) <= maxW) return text;
  let lo = 1, hi = text.length - 1; // characters kept before the "…"
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(text.slice(0, mid) + "…") <= maxW) lo = mid; else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

/** The widget text of a state: version first, then objects, then the other top-level keys kept from the input. */
export function serialize(state) {
  const objects = state.objects.map((o) => {
    const out = { ...o, phrase: o.phrase, box: o.box.map(round) };
    if (out.z === undefined || out.z === null) delete out.z;
    if (!out.locked) delete out.locked;
    if (!isColor(out.color)) delete out.color;
    return out;
  });
  return JSON.stringify({ version: state.version ?? LAYOUT_VERSION, objects, ...state.extra });
}

/** Problems the backend would refuse, as short messages (shown in the editor's status line). */
export function problems(state) {
  const out = [];
  if (!state.objects.length) out.push("empty layout: drag on the canvas to draw a box");
  if (state.objects.length > MAX_OBJECTS) out.push(`more than ${MAX_OBJECTS} boxes`);
  state.objects.forEach((o, i) => {
    const [x0, y0, x1, y1] = o.box;
    if (!o.phrase.trim()) out.push(`box ${i + 1} has no phrase (double-click it)`);
    if (!(x1 > x0 && y1 > y0)) out.push(`box ${i + 1} has zero area`);
    if (Math.min(x0, y0) < 0 || Math.max(x1, y1) > 1) out.push(`box ${i + 1} is outside the canvas`);
  });
  return out;
}

const area = (o) => Math.max(0, o.box[2] - o.box[0]) * Math.max(0, o.box[3] - o.box[1]);

const orders = new WeakMap(); // objects array -> its paint order (states are immutable: sorted once per edit)

/** Indices bottom to top, as the sampler composes them: z, then larger regions below smaller, then order.
 * Cached per objects array and frozen: pointer moves and redraws do not sort again. */
export function paintOrder(state) {
  let order = orders.get(state.objects);
  if (!order) {
    const z = (o) => (Number.isFinite(o.z) ? o.z : 0);
    order = Object.freeze(state.objects.map((_, i) => i).sort((a, b) => {
      const oa = state.objects[a], ob = state.objects[b];
      return (z(oa) - z(ob)) || (area(ob) - area(oa)) || (a - b);
    }));
    orders.set(state.objects, order);
  }
  return order;
}

const inside = (o, x, y) => x >= o.box[0] && x <= o.box[2] && y >= o.box[1] && y <= o.box[3];

/** The topmost object at (x, y), or -1; `filter(o)` restricts the candidates (e.g. unlocked ones). */
export function hitTest(state, x, y, filter = () => true) {
  const order = paintOrder(state);
  for (let k = order.length - 1; k >= 0; k--) {
    const o = state.objects[order[k]];
    if (filter(o) && inside(o, x, y)) return order[k];
  }
  return -1;
}

const withObjects = (state, objects) => ({ ...state, objects });
const topZ = (state) => state.objects.reduce((m, o) => Math.max(m, o.z ?? 0), 0);

/** A colour of the palette not used yet (or the least used). */
export function nextColor(state) {
  const used = state.objects.map((o) => o.color);
  let best = PALETTE[0], bestCount = Infinity;
  for (const c of PALETTE) {
    const n = used.filter((u) => u === c).length;
    if (n < bestCount) { best = c; bestCount = n; }
  }
  return best;
}

/** Normalised box from two corners, ordered and clamped to the canvas. */
export function boxFrom(x0, y0, x1, y1) {
  return [clamp01(Math.min(x0, x1)), clamp01(Math.min(y0, y1)), clamp01(Math.max(x0, x1)), clamp01(Math.max(y0, y1))];
}

export function addBox(state, box, phrase = "") {
  const obj = { phrase, box, z: topZ(state) + 1, color: nextColor(state) };
  return withObjects(state, [...state.objects, obj]);
}

export function updateObject(state, i, patch) {
  return withObjects(state, state.objects.map((o, k) => (k === i ? { ...o, ...patch } : o)));
}

export function removeObject(state, i) {
  return withObjects(state, state.objects.filter((_, k) => k !== i));
}

/** Shift a box by (dx, dy) without leaving the canvas. */
export function moveBox(box, dx, dy) {
  const w = box[2] - box[0], h = box[3] - box[1];
  const x0 = Math.min(Math.max(box[0] + dx, 0), 1 - w), y0 = Math.min(Math.max(box[1] + dy, 0), 1 - h);
  return [x0, y0, x0 + w, y0 + h];
}

/** Drag handle `h` ("n", "se", ...) of a box to (x, y); edges cannot cross (min size `min` on each axis). */
export function resizeBox(box, h, x, y, min = 0.005) {
  let [x0, y0, x1, y1] = box;
  x = clamp01(x); y = clamp01(y);
  if (h.includes("w")) x0 = Math.min(x, x1 - min);
  if (h.includes("e")) x1 = Math.max(x, x0 + min);
  if (h.includes("n")) y0 = Math.min(y, y1 - min);
  if (h.includes("s")) y1 = Math.max(y, y0 + min);
  return [clamp01(x0), clamp01(y0), clamp01(x1), clamp01(y1)];
}

export function duplicate(state, i, offset = 0.03) {
  const src = state.objects[i];
  const box = moveBox(src.box, offset, offset);
  const copy = { ...src, box, z: topZ(state) + 1, locked: false, color: nextColor(state) };
  return withObjects(state, [...state.objects, copy]);
}

/** Move object i one step up (dir = +1) or down (-1) in the paint order; every object gets an explicit z. */
export function restack(state, i, dir) {
  const order = [...paintOrder(state)];
  const k = order.indexOf(i), j = k + dir;
  if (k < 0 || j < 0 || j >= order.length) return state;
  [order[k], order[j]] = [order[j], order[k]];
  const z = new Map(order.map((idx, rank) => [idx, rank]));
  return withObjects(state, state.objects.map((o, idx) => ({ ...o, z: z.get(idx) })));
}

/** Remove every unlocked object. */
export function clearUnlocked(state) {
  return withObjects(state, state.objects.filter((o) => o.locked));
}
