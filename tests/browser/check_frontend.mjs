// Drives the system chromium through ComfyUI's frontend with playwright-core (no browser download).
// Usage: node check_frontend.mjs <config.json>; config: {url, chromium, userDataDir, artifacts,
// result, pack, nodeIds, workflows: [{name, workflow}]}. Writes the result JSON to config.result:
// extensions, served pack files, registered node types, graphToPrompt() output of every workflow,
// console errors, page errors, screenshots. Assertions live in test_frontend.py.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const result = { console: [], pageErrors: [], packResponses: [], failedRequests: [], workflows: {}, steps: [] };
const t0 = Date.now();
const step = (name) => result.steps.push([name, (Date.now() - t0) / 1000]);
const save = () => fs.writeFileSync(cfg.result, JSON.stringify(result, null, 1));

const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.chromium,
  headless: true,
  viewport: { width: 1600, height: 1000 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-quic", "--disable-sync", "--disable-dev-shm-usage"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => result.console.push({ type: msg.type(), text: msg.text(), url: msg.location().url ?? "" }));
  page.on("pageerror", (err) => result.pageErrors.push({ message: String(err.message), stack: String(err.stack ?? "") }));
  page.on("response", (r) => {
    if (r.url().includes(`/extensions/${cfg.pack}/`)) result.packResponses.push({ url: r.url(), status: r.status() });
  });
  page.on("requestfailed", (r) => result.failedRequests.push({ url: r.url(), error: r.failure()?.errorText ?? "" }));

  await page.goto(cfg.url, { waitUntil: "domcontentloaded", timeout: 120_000 });
  step("domcontentloaded");
  await page.waitForFunction(
    () => window.app?.graph && window.LiteGraph?.registered_node_types
      && Object.keys(window.LiteGraph.registered_node_types).length > 50,
    null, { timeout: 180_000, polling: 250 });
  step("app ready");
  await page.waitForLoadState("networkidle", { timeout: 30_000 }).catch(() => step("networkidle timed out"));
  step("network idle");

  Object.assign(result, await page.evaluate((nodeIds) => ({
    extensions: (window.app.extensions ?? []).map((e) => e.name),
    registered: nodeIds.filter((id) => id in window.LiteGraph.registered_node_types),
    registeredCount: Object.keys(window.LiteGraph.registered_node_types).length,
  }), cfg.nodeIds));
  await page.screenshot({ path: path.join(cfg.artifacts, "frontend.png") });

  for (const { name, workflow } of cfg.workflows) {
    try {
      result.workflows[name] = await page.evaluate(async (wf) => {
        await window.app.loadGraphData(wf, true, true, null);
        const p = await window.app.graphToPrompt();
        return { output: p.output };
      }, workflow);
      await page.keyboard.press("Escape");  // close a "missing models" dialog, if any
      await page.screenshot({ path: path.join(cfg.artifacts, `${name.replace(/[^\w.-]/g, "_")}.png`) });
    } catch (e) {
      result.workflows[name] = { error: String(e) };
    }
    step(`workflow ${name}`);
  }

  // The preset buttons of web/js/lrdm.js on LRDM_Sampler: press each, read graphToPrompt and the saved node.
  const basic = cfg.workflows.find((w) => w.name === "lrdm_sd15_basic.json");
  if (basic) {
    result.presets = await page.evaluate(async ({ wf, pack }) => {
      await window.app.loadGraphData(wf, true, true, null);
      const node = window.app.graph._nodes.find((n) => n.type === "LRDM_Sampler");
      const buttons = node.widgets.filter((w) => w.type === "button");
      const served = await import(`/extensions/${pack}/js/presets.js`);
      const out = { buttons: buttons.map((w) => w.name), presets: served.PRESETS, labels: served.PRESET_LABELS,
        pressed: {} };
      for (const b of buttons) {
        b.callback(b);
        const p = await window.app.graphToPrompt();
        out.pressed[b.name] = { inputs: p.output[String(node.id)].inputs, saved: node.serialize().widgets_values };
      }
      return out;
    }, { wf: basic.workflow, pack: cfg.pack });
    step("presets");
  }
} finally {
  save();
  await context.close();
}
