// LRDM_Layout editors loaded from a shared workflow that tries to freeze the tab (issue 19), in the real frontend.
// Usage: node check_hostile_layouts.mjs <config.json>; config: {url, chromium, userDataDir, artifacts, result}.
// One workflow, four LRDM_Layout nodes: "both" (1 000 boxes, one with a 100 kB phrase), "many" (1 000 short boxes),
// "long" (one box with a 60 kB phrase) and "plain" (one box). Records how long the load took, what each editor
// shows (read-only, banner), how fast real pointer and key events are handled, and how many undo steps typing
// a phrase and dragging through the colour well add. test_hostile_layouts.py asserts on the result JSON.
import fs from "node:fs";
import path from "node:path";
import { launch, waitForApp } from "./browser.mjs";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const result = { console: [], pageErrors: [], steps: [], nodes: {} };
const t0 = Date.now();
const step = (name) => result.steps.push([name, (Date.now() - t0) / 1000]);
const save = () => fs.writeFileSync(cfg.result, JSON.stringify(result, null, 1));
const LOAD_MS = 60_000; // the old editor took minutes on the 100 kB label: give up and report instead of hanging

const grid = (i) => { // a 40-column grid of small boxes, three decimals
  const x = 0.02 + (i % 40) * 0.024, y = 0.02 + Math.floor(i / 40) * 0.038;
  return [x, y, x + 0.02, y + 0.03].map((v) => Number(v.toFixed(3)));
};
const boxes = (n, phrase = (i) => `object ${i}`) => JSON.stringify({ version: 1,
  objects: Array.from({ length: n }, (_, i) => ({ phrase: phrase(i), box: grid(i) })) });
const TEXTS = {
  both: boxes(1000, (i) => (i === 0 ? "a very long phrase ".repeat(5300) : `object ${i}`)), // > 100 kB
  many: boxes(1000),
  long: JSON.stringify({ version: 1, objects: [{ phrase: "a red apple ".repeat(5000), box: [0.1, 0.1, 0.9, 0.9] }] }),
  plain: JSON.stringify({ version: 1, objects: [{ phrase: "a cat", box: [0.2, 0.2, 0.8, 0.8], color: "#e6194b" }] }),
};
result.textChars = Object.fromEntries(Object.entries(TEXTS).map(([k, v]) => [k, v.length]));
result.longestPhrase = Math.max(...JSON.parse(TEXTS.both).objects.map((o) => o.phrase.length));

const { context, page } = await launch(cfg, result);
const within = (promise, ms, what) => Promise.race([promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))]);
const ping = () => within(page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(true)))), 10_000, "ping");

/** One editor's view: read-only, the banner (shown, text, above the canvas), the widget text kept as loaded. */
const editorOf = (title) => page.evaluate((title) => {
  const n = window.app.graph.nodes.find((x) => x.title === title);
  const ed = n.lrdmEditor;
  const canvas = ed.canvas.getBoundingClientRect();
  return { readOnly: ed.readOnly, error: ed.error, objects: ed.state.objects.length,
    banner: ed.banner.hidden ? "" : ed.banner.textContent,
    bannerAbove: ed.banner.getBoundingClientRect().bottom <= ed.stage.getBoundingClientRect().top + 1,
    widgetChars: n.widgets.find((w) => w.name === "layout_json").value.length,
    rect: { x: canvas.x, y: canvas.y, width: canvas.width, height: canvas.height } };
}, title);

try {
  await page.goto(cfg.url, { waitUntil: "domcontentloaded", timeout: 120_000 });
  await waitForApp(page, step);
  step("app ready");

  // The workflow as a file would bring it: built with the real node class, serialised, the hostile texts put into
  // the layout_json values, then loaded with loadGraphData (onConfigure -> the editor parses and draws).
  result.load = await within(page.evaluate(async (texts) => {
    const { app, LiteGraph } = window;
    const empty = { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {},
      version: 0.4 };
    await app.loadGraphData(empty, true, true, "blank");
    Object.keys(texts).forEach((title, k) => {
      const n = LiteGraph.createNode("LRDM_Layout");
      n.title = title;
      n.pos = [20 + (k % 2) * 520, 40 + Math.floor(k / 2) * 620];
      app.graph.add(n);
    });
    const data = JSON.parse(JSON.stringify(app.graph.serialize()));
    for (const nd of data.nodes) {
      const i = nd.widgets_values.findIndex((v) => typeof v === "string" && v.includes('"objects"'));
      nd.widgets_values[i] = texts[nd.title];
    }
    data.extra = { ds: { scale: 0.75, offset: [0, 0] } };
    const start = performance.now();
    await app.loadGraphData(data, true, true, "lrdm-hostile-layouts");
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    await new Promise((r) => setTimeout(r, 300)); // the ResizeObserver lays the canvases out and draws them
    await new Promise((r) => requestAnimationFrame(r));
    return { ms: performance.now() - start };
  }, TEXTS), LOAD_MS, "loading the workflow");
  step("loaded");
  for (const title of Object.keys(TEXTS)) result.nodes[title] = await editorOf(title);
  await page.screenshot({ path: path.join(cfg.artifacts, "hostile_layouts.png") });

  // Real pointer moves over each canvas and a key press on it; each event's latency is measured in the page by
  // a listener added after the editor's own (so it includes the editor's handling and any queueing before it).
  await page.evaluate(() => {
    window.lrdmLatency = [];
    for (const n of window.app.graph.nodes) {
      for (const type of ["pointermove", "keydown"]) {
        n.lrdmEditor.canvas.addEventListener(type, (e) => window.lrdmLatency.push(
          { node: n.title, type, ms: performance.now() - e.timeStamp }));
      }
    }
  });
  result.moves = {};
  for (const title of ["both", "many", "long"]) {
    const r = result.nodes[title].rect;
    const start = Date.now();
    await page.mouse.move(r.x + r.width * 0.1, r.y + r.height * 0.1);
    await page.mouse.move(r.x + r.width * 0.9, r.y + r.height * 0.9, { steps: 20 });
    await ping();
    result.moves[title] = Date.now() - start;
  }
  await page.mouse.click(result.nodes.many.rect.x + 5, result.nodes.many.rect.y + 5);
  await page.keyboard.press("Escape");
  await ping();
  result.latency = await page.evaluate(() => window.lrdmLatency);
  step("pointer and keys");

  // Typing a phrase and dragging through the colour well: one undo step each (the change tracker's own queue).
  const undoSteps = () => page.evaluate(
    () => window.app.extensionManager.workflow.activeWorkflow.changeTracker.undoQueue.length);
  const plain = result.nodes.plain.rect;
  await page.mouse.click(1500, 950); // empty graph space: no text field focused
  await page.waitForTimeout(300);
  result.undoBefore = await undoSteps();
  await page.mouse.dblclick(plain.x + plain.width / 2, plain.y + plain.height / 2);
  await page.locator("input.lrdm-le-phrase:visible").waitFor({ timeout: 5_000 });
  await page.keyboard.type("a striped cat", { delay: 20 });
  await page.keyboard.press("Enter");
  await page.waitForTimeout(400);
  result.undoAfterTyping = await undoSteps();
  await page.mouse.click(plain.x + plain.width / 2, plain.y + plain.height / 2); // select the box
  await page.waitForTimeout(300);
  result.undoAfterSelect = await undoSteps();
  await page.evaluate(() => {
    const ed = window.app.graph.nodes.find((x) => x.title === "plain").lrdmEditor;
    for (let k = 0; k < 12; k++) { // the well passes through colours while the user drags, then settles
      ed.color.value = `#${(0x102030 + k * 0x0a0a0a).toString(16)}`;
      ed.color.dispatchEvent(new Event("input", { bubbles: true }));
    }
    ed.color.dispatchEvent(new Event("change", { bubbles: true }));
  });
  await page.waitForTimeout(400);
  result.undoAfterColour = await undoSteps();
  result.plainAfter = await page.evaluate(() => JSON.parse(window.app.graph.nodes.find((x) => x.title === "plain")
    .widgets.find((w) => w.name === "layout_json").value).objects[0]);
  step("undo steps");
} catch (e) {
  result.fatal = String(e?.stack ?? e);
  step("fatal");
}
save(); // before closing: a frozen tab may not let the browser close quickly
await within(context.close(), 20_000, "closing the browser").catch(() => {});
process.exit(0);
