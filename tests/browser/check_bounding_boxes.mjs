// Core `Create Bounding Boxes` (newer ComfyUI) -> LRDM_LayoutFromBoundingBoxes in the real frontend.
// Usage: node check_bounding_boxes.mjs <config.json>; config: {url, chromium, userDataDir, artifacts, result, boxes}.
// Builds the graph as a user would wire it (bboxes and elements outputs into the LRDM node, its layout into
// PreviewAny and LRDM Layout Preview), puts `boxes` into the host node's box editor state, reads what
// graphToPrompt() sends and runs it with the Run button; test_bounding_boxes.py asserts on the result JSON.
import fs from "node:fs";
import path from "node:path";
import { launch, runPrompt, waitForApp } from "./browser.mjs";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const result = { console: [], pageErrors: [], steps: [] };
const t0 = Date.now();
const step = (name) => result.steps.push([name, (Date.now() - t0) / 1000]);
const { context, page } = await launch(cfg, result);

try {
  await page.goto(cfg.url, { waitUntil: "domcontentloaded", timeout: 120_000 });
  await waitForApp(page, step);
  step("app ready");
  result.graph = await page.evaluate(async (boxes) => {
    const { app, LiteGraph } = window;
    await app.loadGraphData({ last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {},
      extra: {}, version: 0.4 }, true, true, "lrdm-bounding-boxes-test");
    const add = (type, pos) => { const n = LiteGraph.createNode(type); n.pos = pos; app.graph.add(n); return n; };
    const boxesNode = add("CreateBoundingBoxes", [40, 60]);
    const conv = add("LRDM_LayoutFromBoundingBoxes", [560, 60]);
    const text = add("PreviewAny", [960, 60]);
    const prev = add("LRDM_LayoutPreview", [960, 360]);
    const link = (from, outName, to, inName) => from.connect(from.findOutputSlot(outName), to, to.findInputSlot(inName));
    link(boxesNode, "bboxes", conv, "bboxes");
    link(boxesNode, "elements", conv, "elements");
    link(conv, "layout", text, "source");
    link(conv, "layout", prev, "layout");
    prev.connect(0, add("PreviewImage", [1260, 360]), 0);
    const set = (node, name, v) => { const w = node.widgets.find((x) => x.name === name); w.value = v; w.callback?.(v); };
    set(boxesNode, "width", 512);
    set(boxesNode, "height", 512);
    set(boxesNode, "editor_state", boxes);
    set(conv, "width", 512);
    set(conv, "height", 512);
    set(conv, "phrases", "not used: box 1 has a description\na blue cup");
    app.canvas.setDirty(true, true);
    const p = await app.graphToPrompt();
    const find = (type) => Object.values(p.output).find((n) => n.class_type === type);
    return { boxesInputs: find("CreateBoundingBoxes")?.inputs, convInputs: find("LRDM_LayoutFromBoundingBoxes")?.inputs,
      textId: String(text.id), links: app.graph.links ? Object.keys(app.graph.links).length : null };
  }, cfg.boxes);
  await page.screenshot({ path: path.join(cfg.artifacts, "bounding_boxes_graph.png") });
  step("graph built");
  const h = await runPrompt(page, cfg.runTimeoutMs ?? 120_000);
  result.run = { status: h.status, outputs: h.outputs };
  await page.screenshot({ path: path.join(cfg.artifacts, "bounding_boxes_run.png") });
  step("run");
} catch (e) {
  result.fatal = String(e?.stack ?? e);
} finally {
  fs.writeFileSync(cfg.result, JSON.stringify(result, null, 1));
  await context.close();
}
