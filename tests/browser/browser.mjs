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

/** Click the Run button and wait for the prompt it queued to finish or fail (polling its /api/history entry).
 * Returns that history entry; throws at once when the server refuses the prompt (its node errors in the message),
 * or when the run does not end within `timeoutMs`. */
export async function runPrompt(page, timeoutMs = 120_000) {
  const posted = page.waitForResponse((r) => r.request().method() === "POST"
    && /\/prompt$/.test(new URL(r.url()).pathname), { timeout: 60_000 });
  await page.getByRole("button", { name: "Run", exact: true }).first().click();
  const response = await posted.catch(() => null);
  if (!response) throw new Error("Run sent no prompt to the server within 60 s");
  const body = await response.json().catch(() => ({}));
  if (!response.ok() || !body.prompt_id) {
    throw new Error(`the server refused the prompt (${response.status()}): ${JSON.stringify(body).slice(0, 2000)}`);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await page.waitForTimeout(500);
    const h = await page.evaluate(async (id) => (await (await fetch(`/api/history/${id}`)).json())[id] ?? null,
      body.prompt_id);
    if (h?.status && (h.status.completed || h.status.status_str === "error")) return h;
  }
  throw new Error(`prompt ${body.prompt_id} did not finish within ${timeoutMs / 1000} s`);
}
