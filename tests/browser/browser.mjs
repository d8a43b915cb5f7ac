// Shared by the check_*.mjs scripts: the system chromium through playwright-core, and waiting for ComfyUI's app.
import { chromium } from "playwright-core";

/** Launch chromium (persistent profile, the workplace's flags) with the "Nodes 2.0" banner dismissed; console
 * messages and page errors go into result.console / result.pageErrors. Returns { context, page }. */
export async function launch(cfg, result, { deviceScaleFactor } = {}) {
  const context = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.chromium,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    ...(deviceScaleFactor ? { deviceScaleFactor } : {}),
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-quic", "--disable-sync", "--disable-dev-shm-usage"],
  });
  // The frontend's "Introducing Nodes 2.0" banner shifts the canvas: dismissed as a user would have.
  await context.addInitScript(() => localStorage.setItem("vueNodesBannerDismissed", "true"));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => result.console.push({ type: msg.type(), text: msg.text(), url: msg.location().url ?? "" }));
  page.on("pageerror", (err) => result.pageErrors.push({ message: String(err.message), stack: String(err.stack ?? "") }));
  return { context, page };
}

/** Wait until the app has registered its node types, then for the network to settle (a timeout is only noted). */
export async function waitForApp(page, step, idleMs = 20_000) {
  await page.waitForFunction(
    () => window.app?.graph && window.LiteGraph?.registered_node_types
      && Object.keys(window.LiteGraph.registered_node_types).length > 50,
    null, { timeout: 180_000, polling: 250 });
  await page.waitForLoadState("networkidle", { timeout: idleMs }).catch(() => step("networkidle timed out"));
}
