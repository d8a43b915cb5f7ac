// README pictures of example workflows run in ComfyUI's real frontend (playwright-core on the system chromium).
// Usage: node check_screenshots.mjs <config.json>; config: {url, chromium, userDataDir, artifacts, result, outDir,
// shots: [{name, file, workflow, variant, layout, timeoutMs}]}. For each shot: load the UI workflow, apply its
// variant (e.g. swap the checkpoint loader for the pack's toy model), press Run, wait for the run and for every
// output node to show its images, lay the same nodes out for a picture (positions, sizes, helper nodes collapsed:
// nothing else changes) and save a screenshot clipped to the graph. test_screenshots.py asserts on the result JSON.
import fs from "node:fs";
import path from "node:path";
import { launch, runPrompt, waitForApp } from "./browser.mjs";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const result = { console: [], pageErrors: [], steps: [], shots: {} };
const t0 = Date.now();
const step = (name) => result.steps.push([name, (Date.now() - t0) / 1000]);
const save = () => fs.writeFileSync(cfg.result, JSON.stringify(result, null, 1));

// --- what each picture shows ------------------------------------------------------------------------------------
// A variant edits the loaded graph before it is queued (runs in the page). The toy variant of the step-by-step
// example: the pack's small model instead of an SD checkpoint, a layout and prompt in its vocabulary, 64x64.
const TOY_PROMPT = "a red circle and a blue square";
const TOY_LAYOUT = JSON.stringify({ version: 1, background: "empty", objects: [
  { phrase: "a red circle", box: [0.06, 0.5, 0.44, 0.94] },
  { phrase: "a blue square", box: [0.56, 0.06, 0.94, 0.44] }] });

// Layouts: columns of items; an item picks one node by type, optionally by a widget value or by what feeds it
// (`from`: a type, a [type, output slot], or a list of those hops walking upstream). `collapse` shows a helper node
// as its title only; `size` sets [w, h] (else the node's own minimum size); `focus: false` keeps a node out of the
// clip. Nodes that no item names are collapsed in an extra column and listed in the result as `unplaced`.
const LAYOUTS = {
  demo: {
    columns: [
      [{ type: "LRDM_LayoutFromJSON", size: [400, 170] }, { type: "LRDM_ToyModelLoader" },
        { type: "EmptyLatentImage" }, { type: "CLIPTextEncode", collapse: true },
        { type: "CLIPTextEncode", collapse: true }],
      [{ type: "LRDM_Sampler" }, { type: "KSampler", collapse: true }],
      [{ type: "VAEDecode", collapse: true, from: "LRDM_Sampler" }, { type: "ImageScaleBy", collapse: true },
        { type: "VAEDecode", collapse: true }, { type: "ImageScaleBy", collapse: true },
        { type: "LRDM_LayoutPreview", collapse: true }],
      [{ type: "SaveImage", widget: ["filename_prefix", "lrdm_demo_layout"], size: [330, 350] },
        { type: "SaveImage", widget: ["filename_prefix", "lrdm_demo_plain"], size: [330, 350] }],
      [{ type: "SaveImage", widget: ["filename_prefix", "lrdm_demo_boxes"], size: [300, 350] }],
    ],
  },
  attention: {
    columns: [
      [{ type: "LRDM_LayoutFromJSON", size: [400, 170] }, { type: "LRDM_ToyModelLoader" },
        { type: "EmptyLatentImage" }, { type: "CLIPTextEncode", collapse: true },
        { type: "CLIPTextEncode", collapse: true }],
      [{ type: "LRDM_CaptureAttention" }],
      [{ type: "ImageScaleBy", collapse: true, from: ["LRDM_CaptureAttention", 1] },
        { type: "ImageScaleBy", collapse: true, from: ["LRDM_CaptureAttention", 2] }],
      [{ type: "PreviewImage", from: [["ImageScaleBy", 0], ["LRDM_CaptureAttention", 1]], size: [540, 300] },
        { type: "PreviewImage", from: [["ImageScaleBy", 0], ["LRDM_CaptureAttention", 2]], size: [540, 300] }],
      // The rest of the example (sampling with LRDM_Guider) stays in the graph, outside the picture.
      [{ type: "LRDM_Guider", collapse: true, focus: false }, { type: "RandomNoise", collapse: true, focus: false },
        { type: "KSamplerSelect", collapse: true, focus: false }, { type: "BasicScheduler", collapse: true, focus: false },
        { type: "SamplerCustomAdvanced", collapse: true, focus: false }, { type: "VAEDecode", collapse: true, focus: false },
        { type: "ImageScaleBy", collapse: true, focus: false }],
      [{ type: "SaveImage", size: [290, 330], focus: false }],
    ],
  },
};

const VARIANTS = {
  // The example as it is.
  none: () => {},
  // Swap CheckpointLoaderSimple for LRDM_ToyModelLoader (same MODEL, CLIP, VAE outputs), toy layout and prompts.
  toy: ({ prompt, layout, cfg }) => {
    const { app, LiteGraph } = window;
    const g = app.graph;
    const set = (n, name, v) => {
      const w = n.widgets?.find((x) => x.name === name);
      if (!w) throw new Error(`${n.type} has no widget ${name}`);
      w.value = v;
      w.callback?.(v);
    };
    const old = g.nodes.find((n) => n.type === "CheckpointLoaderSimple");
    if (!old) throw new Error("toy variant: no CheckpointLoaderSimple in the workflow");
    const toy = LiteGraph.createNode("LRDM_ToyModelLoader");
    toy.pos = [...old.pos];
    g.add(toy);
    const targets = old.outputs.map((o) => (o.links ?? []).map((id) => g.links[id] ?? g.links.get?.(id))
      .filter(Boolean).map((l) => [l.target_id, l.target_slot]));
    g.remove(old);
    targets.forEach((list, slot) => list.forEach(([id, s]) => toy.connect(slot, g.getNodeById(id), s)));
    for (const n of g.nodes) {
      if (n.type === "LRDM_LayoutFromJSON") set(n, "json", layout);
      if (n.type === "EmptyLatentImage") { set(n, "width", 64); set(n, "height", 64); set(n, "batch_size", 1); }
      if (["LRDM_CaptureAttention", "LRDM_Guider", "LRDM_Sampler"].includes(n.type)) set(n, "prompt", prompt);
      if (n.type === "LRDM_Guider") set(n, "cfg", cfg);
    }
    const pos = g.nodes.filter((n) => n.type === "CLIPTextEncode");
    if (pos[0]) set(pos[0], "text", prompt);  // the positive prompt (the negative one stays)
    // The toy model's images and maps are 64 px, which the frontend shows at that size: 4x (nearest) before
    // each preview and save node, as the demo example does.
    for (const target of g.nodes.filter((n) => ["PreviewImage", "SaveImage"].includes(n.type))) {
      const l = g.links[target.inputs[0].link] ?? g.links.get?.(target.inputs[0].link);
      if (!l) continue;
      const up = LiteGraph.createNode("ImageScaleBy");
      up.pos = [target.pos[0] - 40, target.pos[1] + 40];
      g.add(up);
      set(up, "upscale_method", "nearest-exact");
      set(up, "scale_by", 4);
      g.getNodeById(l.origin_id).connect(l.origin_slot, up, 0);
      up.connect(0, target, 0);
    }
  },
};

// --- browser ----------------------------------------------------------------------------------------------------
const { context, page } = await launch(cfg, result, { deviceScaleFactor: 1 });
const boot = () => waitForApp(page, step);

/** Press Run; wait for this prompt's history entry and for every output node to show all its images. */
async function runAndWait(timeoutMs) {
  const h = await runPrompt(page, timeoutMs);
  const run = { status: h.status, prompt: h.prompt[2], outputs: h.outputs };
  if (h.status.status_str !== "success") return run;
  const expected = Object.fromEntries(Object.entries(h.outputs).map(([id, o]) => [id, (o.images ?? []).length])
    .filter(([, n]) => n > 0));
  await page.waitForFunction((want) => Object.entries(want).every(([id, n]) => {
    const node = window.app.graph.getNodeById(Number(id));
    return node?.imgs?.length === n && node.imgs.every((img) => img.complete && img.naturalWidth > 0);
  }), expected, { timeout: 30_000, polling: 250 });
  run.shown = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => {
    const node = window.app.graph.getNodeById(Number(id));
    return [id, { type: node.type, images: node.imgs.map((i) => [i.naturalWidth, i.naturalHeight]) }];
  })), Object.keys(expected));
  return run;
}

/** Place the graph's nodes by a layout (see LAYOUTS); returns the clip rectangle in graph units and the plan. */
const arrange = (layout) => {
  const { app, LiteGraph } = window;
  const g = app.graph;
  const TITLE = LiteGraph.NODE_TITLE_HEIGHT;
  const GAP_X = 50;
  const GAP_Y = 24;
  const used = new Set();
  const source = (n, type, slot) => {  // the node feeding n from a `type` node (output `slot` if given), or null
    for (const inp of n.inputs ?? []) {
      const l = inp.link != null && (g.links[inp.link] ?? g.links.get?.(inp.link));
      const o = l && g.getNodeById(l.origin_id);
      if (o?.type === type && (slot === undefined || l.origin_slot === slot)) return o;
    }
    return null;
  };
  const feeds = (n, from) => {
    const hops = typeof from === "string" ? [[from]] : Array.isArray(from[0]) ? from : [from];
    return hops.every(([type, slot]) => (n = n && source(n, type, slot))) && !!n;
  };
  const pick = (item) => g.nodes.find((n) => !used.has(n.id) && n.type === item.type
    && (!item.widget || n.widgets?.find((w) => w.name === item.widget[0])?.value === item.widget[1])
    && (!item.from || feeds(n, item.from)));
  const columns = layout.columns.map((col) => col.map((item) => {
    const node = pick(item);
    if (!node && !item.collapse) throw new Error(`layout: no ${item.type} node matches ${JSON.stringify(item)}`);
    if (node) used.add(node.id);
    return node ? { node, item } : null;
  }).filter(Boolean));
  const rest = g.nodes.filter((n) => !used.has(n.id));
  if (rest.length) columns.push(rest.map((node) => ({ node, item: { collapse: true } })));
  const ctx = app.canvas.ctx;
  ctx.font = app.canvas.title_text_font ?? "14px Arial";
  let x = 0;
  const focus = [];
  for (const col of columns) {
    let y = TITLE;
    let width = 0;
    for (const { node, item } of col) {
      if (!!node.flags?.collapsed !== !!item.collapse) node.collapse(true);
      if (item.collapse) {
        const w = Math.ceil(ctx.measureText(node.getTitle()).width) + TITLE * 2;
        node.pos = [x, y];
        y += TITLE + GAP_Y;
        width = Math.max(width, w);
      } else {
        const [mw, mh] = node.computeSize();
        node.setSize(item.size ? [Math.max(item.size[0], mw), Math.max(item.size[1], mh)] : [Math.max(mw, 260), mh]);
        node.pos = [x, y];
        if (item.focus !== false) focus.push([x, y - TITLE, x + node.size[0], y + node.size[1]]);
        y += node.size[1] + TITLE + GAP_Y;
        width = Math.max(width, node.size[0]);
      }
    }
    for (const { node, item } of col) if (item.collapse && item.focus !== false) focus.push([node.pos[0], node.pos[1] - TITLE, node.pos[0] + 120, node.pos[1]]);
    x += width + GAP_X;
  }
  app.canvas.deselectAll?.();
  app.canvas.setDirty(true, true);
  const box = [Math.min(...focus.map((b) => b[0])), Math.min(...focus.map((b) => b[1])),
    Math.max(...focus.map((b) => b[2])), Math.max(...focus.map((b) => b[3]))];
  return { box, unplaced: rest.map((n) => n.type) };
};

/** Screenshot of a graph-unit rectangle at scale 1 (the viewport grows to hold it, clear of the toolbars). */
async function shoot(box, file, pad = 20) {
  const [w, h] = [box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad + 12];  // + the nodes' badges
  const left = 80;
  const top = 130;  // below the tab bar and the Run toolbar
  await page.setViewportSize({ width: Math.max(1600, Math.ceil(left + w + 40)), height: Math.max(1000, Math.ceil(top + h + 90)) });
  await page.waitForTimeout(300);
  const clip = await page.evaluate(({ box, left, top, pad }) => {
    const c = window.app.canvas;
    const r = c.canvas.getBoundingClientRect();
    c.ds.scale = 1;
    c.ds.offset = [left + pad - r.left - box[0], top + pad + 12 - r.top - box[1]];
    c.setDirty(true, true);
    return { x: left, y: top };
  }, { box, left, top, pad });
  await page.waitForTimeout(600);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, clip: { x: clip.x, y: clip.y, width: Math.ceil(w), height: Math.ceil(h) } });
  await page.screenshot({ path: path.join(cfg.artifacts, `screenshot_page_${path.basename(file)}`) });
  return { width: Math.ceil(w), height: Math.ceil(h) };
}

try {
  await page.goto(cfg.url, { waitUntil: "domcontentloaded", timeout: 120_000 });
  await boot();
  // Nothing drawn over the graph: no minimap, no canvas statistics (the user's settings, as a user would set them).
  await page.evaluate(async () => {
    const s = window.app.extensionManager.setting;
    await s.set("Comfy.Minimap.Visible", false);
    await s.set("Comfy.Graph.CanvasInfo", false);
  });
  step("app ready");
  for (const shot of cfg.shots) {
    const r = (result.shots[shot.name] = {});
    try {
      await page.setViewportSize({ width: 1600, height: 1000 });
      await page.evaluate(async ({ wf, name }) => {
        await window.app.loadGraphData(wf, true, true, name);
      }, { wf: shot.workflow, name: shot.name });
      await page.keyboard.press("Escape");  // a "missing models" dialog, if any
      await page.evaluate(VARIANTS[shot.variant ?? "none"], { prompt: TOY_PROMPT, layout: TOY_LAYOUT, cfg: 4.5 });
      r.prompt = await page.evaluate(async () => (await window.app.graphToPrompt()).output);
      r.run = await runAndWait(shot.timeoutMs ?? 300_000);
      step(`${shot.name}: run ${r.run.status.status_str}`);
      if (r.run.status.status_str !== "success") continue;
      const placed = await page.evaluate(arrange, LAYOUTS[shot.layout]);
      r.unplaced = placed.unplaced;
      r.size = await shoot(placed.box, path.join(cfg.outDir, shot.file));
      r.file = path.join(cfg.outDir, shot.file);
      step(`${shot.name}: screenshot`);
    } catch (e) {
      r.error = String(e?.stack ?? e);
      await page.screenshot({ path: path.join(cfg.artifacts, `screenshot_failure_${shot.name}.png`) }).catch(() => {});
    }
  }
} catch (e) {
  result.fatal = String(e?.stack ?? e);
  await page.screenshot({ path: path.join(cfg.artifacts, "screenshot_failure.png") }).catch(() => {});
} finally {
  save();
  await context.close();
}
