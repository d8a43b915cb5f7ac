// LRDM_Layout's canvas editor in ComfyUI's real frontend, driven like a user with playwright-core.
// Usage: node check_layout_editor.mjs <config.json>; config: {url, chromium, userDataDir, artifacts, result,
// screenshot, workflowName}. Records what was dragged (screen px) and what the widget, the saved workflow,
// the API prompt and the server ended up with; test_layout_editor.py asserts on the result JSON.
// Phases: classic canvas (add via search, draw, move, resize, save, reload, load, run, malformed JSON), then
// the frontend's Vue node mode ("Nodes 2.0": load the saved workflow, draw, move, run).
import fs from "node:fs";
import path from "node:path";
import { launch, runPrompt, waitForApp } from "./browser.mjs";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const result = { console: [], pageErrors: [], steps: [], classic: {}, vue: {} };
const t0 = Date.now();
const step = (name) => result.steps.push([name, (Date.now() - t0) / 1000]);
const save = () => fs.writeFileSync(cfg.result, JSON.stringify(result, null, 1));
const CANVAS = "canvas[data-lrdm=layout-canvas]";
const RUN_TIMEOUT_MS = cfg.runTimeoutMs ?? 120_000;

const { context, page } = await launch(cfg, result);
const boot = () => waitForApp(page, step);

/** A real mouse drag between two points of the page (screen px), in small steps. */
async function drag(from, to, steps = 8) {
  await page.mouse.move(from[0], from[1]);
  await page.mouse.down();
  await page.mouse.move(to[0], to[1], { steps });
  await page.mouse.up();
}

const canvasRect = () => page.locator(CANVAS).first().boundingBox();
const at = (rect, fx, fy) => [Math.round(rect.x + fx * rect.width), Math.round(rect.y + fy * rect.height)];

/** The layout node's widget JSON and the editor's own view of it. */
const layoutState = () => page.evaluate(() => {
  const n = window.app.graph.nodes.find((x) => x.type === "LRDM_Layout");
  const ed = n?.lrdmEditor;
  return {
    id: n?.id, json: n?.widgets.find((w) => w.name === "layout_json")?.value,
    editorObjects: ed?.state.objects.map((o) => ({ phrase: o.phrase, box: o.box })),
    editorShown: !!ed?.root.isConnected, error: ed?.error ?? null, banner: ed && !ed.banner.hidden ? ed.banner.textContent : "",
  };
});

/** Click the Run button and wait for this prompt's history entry: its status, prompt inputs and outputs. */
async function runAndFetch() {
  const h = await runPrompt(page, RUN_TIMEOUT_MS);
  return { status: h.status, prompt: h.prompt[2], outputs: h.outputs };
}

/** A test image in ComfyUI's input folder (a gradient with a horizon), for Load Image -> LRDM_Layout.image. */
async function uploadImage(name) {
  return page.evaluate(async (name) => {
    const c = new OffscreenCanvas(384, 256);
    const g = c.getContext("2d");
    const sky = g.createLinearGradient(0, 0, 0, 256);
    sky.addColorStop(0, "#6fa8dc"); sky.addColorStop(0.6, "#d9ead3"); sky.addColorStop(0.61, "#93785b");
    sky.addColorStop(1, "#5b4636");
    g.fillStyle = sky; g.fillRect(0, 0, 384, 256);
    const form = new FormData();
    form.append("image", await c.convertToBlob({ type: "image/png" }), name);
    form.append("overwrite", "true");
    const r = await fetch("/upload/image", { method: "POST", body: form });
    return r.status;
  }, name);
}

try {
  await page.goto(cfg.url, { waitUntil: "domcontentloaded", timeout: 120_000 });
  await boot();
  step("app ready");
  const c = result.classic;
  c.upload = await uploadImage("lrdm_test_background.png");

  // The rest of the graph: Load Image -> (LRDM_Layout) -> LRDM_LayoutPreview -> PreviewImage.
  await page.evaluate(async () => {
    const { app, LiteGraph } = window;
    await app.loadGraphData({ last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {},
      extra: {}, version: 0.4 }, true, true, "lrdm-layout-editor-test");
    const add = (type, pos) => { const n = LiteGraph.createNode(type); n.pos = pos; app.graph.add(n); return n; };
    const load = add("LoadImage", [40, 440]);
    load.widgets.find((w) => w.name === "image").value = "lrdm_test_background.png";
    load.widgets.find((w) => w.name === "image").callback?.("lrdm_test_background.png");
    const prev = add("LRDM_LayoutPreview", [1010, 60]);
    prev.widgets.find((w) => w.name === "width").value = 192;
    prev.widgets.find((w) => w.name === "height").value = 128;
    prev.connect(0, add("PreviewImage", [1010, 330]), 0);
    app.canvas.ds.offset = [0, 0];
    app.canvas.ds.scale = 1;
    app.canvas.setDirty(true, true);
  });

  // The node library: search box (double-click on empty canvas), Enter adds it; the sidebar lists it too.
  await page.mouse.dblclick(650, 150);
  await page.keyboard.type("LRDM Layout");
  // The search box lists its results as options (role=option in the 1.32 and the 1.5x search box alike).
  const option = page.getByRole("option").filter({ hasText: "LRDM Layout" }).first();
  await option.waitFor({ timeout: 15_000 });
  c.searchOptions = await page.getByRole("option").allTextContents();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => window.app.graph.nodes.some((n) => n.type === "LRDM_Layout"), null, { timeout: 10_000 });
  // Newer frontends (1.5x) attach the new node to the mouse until a click places it; on 1.32 it is placed already.
  // The click must reach the graph canvas: while the search dialog still fades out it lands on the dialog, the
  // node stays attached and the change tracker records nothing more (its pending change is never closed).
  await page.waitForFunction(() => document.elementFromPoint(650, 150)?.id === "graph-canvas", null,
    { timeout: 10_000, polling: 100 });
  await page.mouse.click(650, 150);
  await page.waitForTimeout(300);
  c.pendingChangesAfterPlacing = await page.evaluate(
    () => window.app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.changeCount ?? null);
  await page.evaluate(() => window.app.extensionManager.command.execute("Workspace.ToggleSidebarTab.node-library"));
  // The library's own search box (its placeholder, as a user sees it), then what the panel around it lists.
  const libSearch = page.getByPlaceholder("Search Nodes...").locator("visible=true").first();
  await libSearch.fill("LRDM Layout");
  await page.waitForTimeout(1200);
  c.libraryHasNode = await page.evaluate(() => {
    const input = [...document.querySelectorAll("input")].find((e) => /search nodes/i.test(e.placeholder ?? "") && e.offsetParent);
    for (let el = input?.parentElement; el && el !== document.body; el = el.parentElement) {
      if (el.querySelector("canvas")) return false; // climbed out of the side panel into the graph
      const listed = [...el.querySelectorAll("*")].some((x) => x.offsetParent && x.tagName !== "INPUT"
        && /^LRDM Layout(?! (Combine|Preview|from))/.test(x.textContent.trim()) && x.textContent.trim().length < 80);
      if (listed) return true;
    }
    return false;
  });
  await page.evaluate(() => window.app.extensionManager.command.execute("Workspace.ToggleSidebarTab.node-library"));
  step("node added from the library search");

  // Place and wire the new node; width/height set the canvas aspect.
  await page.evaluate(() => {
    const { app } = window;
    const n = app.graph.nodes.find((x) => x.type === "LRDM_Layout");
    n.pos = [400, 130];
    n.setSize([560, 640]);
    app.graph.nodes.find((x) => x.type === "LoadImage").connect(0, n, n.findInputSlot("image"));
    n.connect(0, app.graph.nodes.find((x) => x.type === "LRDM_LayoutPreview"), 0);
    for (const [name, v] of [["width", 768], ["height", 512]]) {
      const w = n.widgets.find((x) => x.name === name);
      w.value = v;
      w.callback?.(v);
    }
    n.widgets.find((x) => x.name === "background").value = "a sunny meadow";
    app.canvas.setDirty(true, true);
  });
  await page.waitForTimeout(600);
  let rect = await canvasRect();
  c.rect = rect;

  // Two boxes by real drags, each phrase typed into the inline input that opens after drawing.
  c.draw1 = { from: at(rect, 0.08, 0.30), to: at(rect, 0.40, 0.90) };
  await drag(c.draw1.from, c.draw1.to);
  await page.keyboard.type("a red fox");
  await page.keyboard.press("Enter");
  c.draw2 = { from: at(rect, 0.55, 0.10), to: at(rect, 0.85, 0.45) };
  await drag(c.draw2.from, c.draw2.to);
  await page.keyboard.type("a hot air balloon");
  await page.keyboard.press("Enter");
  c.afterDraw = await layoutState();
  // Move box 2 by dragging its inside; select box 1 by a click, then resize it by its bottom-right handle.
  c.move2 = { from: at(rect, 0.70, 0.30), to: [at(rect, 0.70, 0.30)[0] - 60, at(rect, 0.70, 0.30)[1] + 30] };
  await drag(c.move2.from, c.move2.to);
  await page.waitForTimeout(300);  // let the change tracker record the move as its own undo step
  await page.mouse.click(...at(rect, 0.20, 0.60));
  await page.waitForTimeout(300);
  const corner = [Math.round(rect.x + (c.draw1.to[0] - rect.x)), Math.round(rect.y + (c.draw1.to[1] - rect.y))];
  c.resize1 = { from: corner, to: [corner[0] + 40, corner[1] - 25] };
  await drag(c.resize1.from, c.resize1.to);
  await page.waitForTimeout(300);
  c.afterEdit = await layoutState();
  c.apiPrompt = await page.evaluate(async () => {
    const p = await window.app.graphToPrompt();
    return Object.values(p.output).find((n) => n.class_type === "LRDM_Layout")?.inputs;
  });
  step("drawn, moved, resized");
  // Undo (Ctrl+Z) takes the resize back, redo (Ctrl+Y) brings it again: the frontend's own change tracker.
  await page.locator(CANVAS).first().focus();
  // The tracker restores asynchronously (loadGraphData), and a non-layout change it recorded last (e.g. the node
  // growing after the edit) takes an undo step of its own: press Ctrl+Z until the layout changes (at most 3
  // times). The first layout change must take back exactly the resize; redo until the edit is back.
  // A key pressed while the tracker still restores the previous step races it (1.32.9 and 1.5x alike: the second
  // load can finish first and the redo queue is lost), so each press waits for the restore to end.
  const tracked = () => page.evaluate(() => {
    const n = window.app.graph.nodes.find((x) => x.type === "LRDM_Layout");
    const t = window.app.extensionManager?.workflow?.activeWorkflow?.changeTracker;
    return { json: n?.widgets.find((w) => w.name === "layout_json")?.value, restoring: !!t?._restoringState };
  });
  const waitFor = async (ok, tries) => {
    let s = await tracked();
    for (let t = 0; t < tries && !ok(s); t++) {
      await page.waitForTimeout(150);
      s = await tracked();
    }
    return s;
  };
  // Ctrl held first, the letter pressed and released like a hand does: 1.32.9 records the graph on a key-up
  // that follows a modifier's key-down (handled a frame later); with all four events at once that record runs
  // before the redo and empties the redo queue.
  const chord = async (letter) => {
    await page.keyboard.down("Control");
    await page.waitForTimeout(60);
    await page.keyboard.press(letter, { delay: 80 });
    await page.keyboard.up("Control");
  };
  const pressUntil = async (key, done) => {
    for (let i = 0; i < 3; i++) {
      await chord(key);
      await waitFor((s) => s.restoring || done(s.json), 20); // the restore starts on the next animation frame
      const s = await waitFor((s) => !s.restoring, 100);
      if (done(s.json)) return i + 1;
    }
    return -1;
  };
  c.undoPresses = await pressUntil("z", (j) => j !== c.afterEdit.json);
  c.afterUndo = await layoutState();
  c.redoPresses = await pressUntil("y", (j) => j === c.afterEdit.json);
  c.afterRedo = await layoutState();
  step("undo, redo");

  // Save (Ctrl+S and the name prompt), reload the page, open the saved file: the boxes are back.
  await page.mouse.click(1300, 900);
  await page.keyboard.press("Control+s");
  const nameInput = page.getByRole("dialog").getByRole("textbox").last(); // the name prompt (PrimeVue or reka dialog)
  await nameInput.waitFor({ timeout: 10_000 });
  await nameInput.fill(cfg.workflowName);
  await page.keyboard.press("Enter");
  const savedPath = `/api/userdata/${encodeURIComponent(`workflows/${cfg.workflowName}.json`)}`;
  await page.waitForFunction(async (p) => (await fetch(p)).status === 200, savedPath, { timeout: 15_000, polling: 300 });
  c.saved = await page.evaluate(async (p) => (await fetch(p)).json(), savedPath);
  step("saved");
  await page.reload({ waitUntil: "domcontentloaded" });
  await boot();
  await page.evaluate(async (p) => {
    await window.app.loadGraphData({ last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {},
      extra: {}, version: 0.4 }, true, true, "blank");
    const saved = await (await fetch(p)).json();
    await window.app.loadGraphData(saved, true, true, "reloaded");
    window.app.canvas.ds.offset = [0, 0];
    window.app.canvas.ds.scale = 1;
    window.app.canvas.setDirty(true, true);
  }, savedPath);
  await page.waitForTimeout(800);
  c.afterReload = await layoutState();
  step("reloaded and loaded");

  // Queue with the Run button: the server receives exactly this layout and parses it.
  c.run = await runAndFetch();
  await page.waitForFunction(() => window.app.graph.nodes.find((x) => x.type === "LRDM_Layout")?.lrdmEditor?.bgImage,
    null, { timeout: 15_000 }).catch(() => {});
  c.backgroundShown = await page.evaluate(() =>
    !!window.app.graph.nodes.find((x) => x.type === "LRDM_Layout")?.lrdmEditor?.bgImage?.naturalWidth);
  step("run (classic)");

  // The screenshot for the README: the whole node with its editor, box 2 selected (handles shown).
  await page.mouse.click(1300, 900);
  rect = await canvasRect();
  await page.mouse.click(...at(rect, 0.66, 0.45));
  await page.waitForTimeout(300);
  const node = await page.evaluate(() => {
    const { app } = window;
    const n = app.graph.nodes.find((x) => x.type === "LRDM_Layout");
    const r = app.canvas.canvas.getBoundingClientRect();
    const [sx, sy] = app.canvas.ds.convertOffsetToCanvas([n.pos[0], n.pos[1] - 30]);
    return { x: r.left + sx, y: r.top + sy, w: n.size[0] * app.canvas.ds.scale, h: (n.size[1] + 30) * app.canvas.ds.scale };
  });
  fs.mkdirSync(path.dirname(cfg.screenshot), { recursive: true });
  await page.screenshot({ path: cfg.screenshot, clip: { x: Math.max(0, node.x - 16), y: Math.max(0, node.y - 26),
    width: node.w + 32, height: node.h + 40 } });
  await page.screenshot({ path: path.join(cfg.artifacts, "layout_editor_page.png") });

  // Malformed JSON typed into the JSON panel: a banner reports it, the text is kept, the server refuses it.
  await page.getByRole("button", { name: "JSON", exact: true }).click();
  const area = page.locator("textarea.lrdm-le-json");
  await area.fill('{"version": 1, "objects": [{"phrase": "a red fox", "box": [0.1, 0.2');
  await page.waitForTimeout(200);
  c.malformed = await layoutState();
  c.malformedPost = await page.evaluate(async () => {
    const p = await window.app.graphToPrompt();
    const r = await fetch("/prompt", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: p.output }) });
    return { status: r.status, body: await r.json() };
  });
  await page.screenshot({ path: path.join(cfg.artifacts, "layout_editor_malformed.png") });
  step("malformed JSON");

  // Vue node mode ("Nodes 2.0"): reload with it on, open the saved workflow, draw and move a third box, run.
  const v = result.vue;
  await page.evaluate(() => window.app.extensionManager.setting.set("Comfy.VueNodes.Enabled", true));
  await page.reload({ waitUntil: "domcontentloaded" });
  await boot();
  await page.evaluate(async (p) => {
    const saved = await (await fetch(p)).json();
    await window.app.loadGraphData(saved, true, true, "vue");
    window.app.canvas.ds.offset = [0, 0];
    window.app.canvas.ds.scale = 1;
    window.app.canvas.setDirty(true, true);
  }, savedPath);
  await page.locator(CANVAS).first().waitFor({ timeout: 15_000 });
  await page.waitForTimeout(800);
  v.vueNodesMode = await page.evaluate(() => !!window.LiteGraph.vueNodesMode);
  v.inVueNode = await page.evaluate(() => !!document.querySelector("[data-lrdm=layout-editor]")?.closest("[data-node-id]"));
  v.afterLoad = await layoutState();
  rect = await canvasRect();
  v.rect = rect;
  v.draw3 = { from: at(rect, 0.50, 0.60), to: at(rect, 0.75, 0.92) };
  await drag(v.draw3.from, v.draw3.to);
  await page.keyboard.type("a small wooden fence");
  await page.keyboard.press("Enter");
  v.move3 = { from: at(rect, 0.62, 0.80), to: [at(rect, 0.62, 0.80)[0] + 50, at(rect, 0.62, 0.80)[1] - 20] };
  await drag(v.move3.from, v.move3.to);
  await page.waitForTimeout(300);
  v.afterEdit = await layoutState();
  await page.screenshot({ path: path.join(cfg.artifacts, "layout_editor_vue.png") });
  v.run = await runAndFetch();
  step("run (vue nodes)");
  // Keys and buttons: Delete removes the selected box (not the node); a locked box survives Delete and Clear.
  await page.locator(CANVAS).first().focus();
  await page.keyboard.press("Delete");
  await page.waitForTimeout(200);
  v.afterDeleteKey = await layoutState();
  await page.mouse.click(...at(rect, 0.15, 0.75));
  await page.getByRole("button", { name: "Lock", exact: true }).click();
  await page.locator(CANVAS).first().focus();
  await page.keyboard.press("Delete");
  await page.getByRole("button", { name: "Clear", exact: true }).click();
  await page.waitForTimeout(200);
  v.afterLockAndClear = await layoutState();
  v.nodeCount = await page.evaluate(() => window.app.graph.nodes.length);
  await page.evaluate(() => window.app.extensionManager.setting.set("Comfy.VueNodes.Enabled", false));
} catch (e) {
  result.fatal = String(e?.stack ?? e);
  await page.screenshot({ path: path.join(cfg.artifacts, "layout_editor_failure.png") }).catch(() => {});
} finally {
  save();
  await context.close();
}
