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

/** Click the Run button, then poll /api/history until the prompt it queued (the first id not there before) has
 * finished or failed. Returns that history entry; throws when it did not finish within `timeoutMs`. */
export async function runPrompt(page, timeoutMs = 120_000) {
  const before = await page.evaluate(async () => Object.keys(await (await fetch("/api/history")).json()));
  await page.getByRole("button", { name: "Run", exact: true }).first().click();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await page.waitForTimeout(500);
    const h = await page.evaluate(async (seen) => {
      const all = await (await fetch("/api/history")).json();
      const id = Object.keys(all).find((k) => !seen.includes(k));
      const st = id && all[id].status;
      return st && (st.completed || st.status_str === "error") ? all[id] : null;
    }, before);
    if (h) return h;
  }
  throw new Error(`the prompt did not finish within ${timeoutMs / 1000} s`);
}
