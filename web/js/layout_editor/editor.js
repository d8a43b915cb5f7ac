// LRDM layout editor: a canvas DOM widget inside LRDM_Layout (classic canvas and Vue "Nodes 2.0" nodes).
// State lives in the node's real STRING widget `layout_json` (saved, copied, undone, sent in API prompts);
// this widget (serialize: false) only draws it and writes edits back. Malformed JSON is shown, never dropped.
import { app } from "../../../../scripts/app.js";
import { api } from "../../../../scripts/api.js";
import * as M from "./model.js";

const HANDLE_PX = 8; // handle square side, CSS px
const MIN_DRAW_PX = 4; // a drag shorter than this on either axis is a click
const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
const CURSORS = { nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize", n: "ns-resize",
  s: "ns-resize", e: "ew-resize", w: "ew-resize" };

const CSS = `
.lrdm-le{box-sizing:border-box;display:flex;flex-direction:column;gap:4px;width:100%;height:100%;min-height:220px;
  font:12px/1.3 system-ui,sans-serif;color:var(--input-text,#ddd);}
.lrdm-le *{box-sizing:border-box}
.lrdm-le-bar{display:flex;flex-wrap:wrap;gap:3px;align-items:center}
.lrdm-le-bar button{padding:2px 7px;border-radius:4px;border:1px solid var(--border-color,#555);cursor:pointer;
  background:var(--comfy-input-bg,#333);color:inherit;font:inherit}
.lrdm-le-bar button:disabled{opacity:.4;cursor:default}
.lrdm-le-bar button.on{outline:1px solid #8ab4f8}
.lrdm-le-bar input[type=color]{width:26px;height:22px;padding:0;border:none;background:none;cursor:pointer}
.lrdm-le-bar .sep{flex:1}
.lrdm-le-stage{position:relative;flex:1 1 auto;min-height:120px;overflow:hidden}
.lrdm-le-stage canvas{position:absolute;outline:none;touch-action:none;cursor:crosshair;border-radius:2px}
.lrdm-le-phrase{position:absolute;z-index:2;font:12px system-ui,sans-serif;padding:1px 4px;border-radius:3px;
  border:1px solid #8ab4f8;background:#111;color:#fff;min-width:120px}
.lrdm-le-banner{padding:4px 6px;border-radius:4px;background:#5c1d1d;color:#fff;white-space:pre-wrap}
.lrdm-le-banner button{margin-left:6px}
.lrdm-le-status{min-height:16px;opacity:.85;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.lrdm-le-status.warn{color:#f0b35a}
.lrdm-le-json{width:100%;height:90px;resize:vertical;font:11px monospace;background:var(--comfy-input-bg,#222);
  color:inherit;border:1px solid var(--border-color,#555)}
`;

function injectCss() {
  if (document.getElementById("lrdm-layout-editor-css")) return;
  const style = document.createElement("style");
  style.id = "lrdm-layout-editor-css";
  style.textContent = CSS;
  document.head.appendChild(style);
}

const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

const textColorOn = (hex) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#000" : "#fff";
};

/** The editor of one LRDM_Layout node. */
export class LayoutEditor {
  constructor(node) {
    injectCss();
    this.node = node;
    this.json = node.widgets.find((w) => w.name === "layout_json");
    this.state = M.emptyState();
    this.lastText = null; // the widget text the state was parsed from / written as
    this.error = null; // parse error of the widget text (the text is kept as it is)
    this.readOnly = false;
    this.selected = -1;
    this.drag = null;
    this.editing = -1; // index whose phrase input is open
    this.bgImage = null; // last run's image (ui.lrdm_background)
    this.buildDom();
    this.resizeObserver = new ResizeObserver(() => this.layoutCanvas());
    this.resizeObserver.observe(this.stage);
    // A linked Load Image's preview arrives later, without an event we could hook: look twice a second.
    this.bgTimer = setInterval(() => {
      if (this.root.isConnected && this.background() !== this.drawnBg) this.draw();
    }, 500);
    this.sync(true);
  }

  // ---- DOM ------------------------------------------------------------------------------------
  buildDom() {
    const btn = (label, title, fn) => {
      const b = el("button", { textContent: label, title, type: "button" });
      b.addEventListener("click", (e) => { e.stopPropagation(); fn(); this.canvas.focus({ preventScroll: true }); });
      return b;
    };
    this.btnDup = btn("Dup", "Duplicate the selected box (Ctrl+D)", () => this.duplicate());
    this.btnDel = btn("Del", "Delete the selected box (Delete)", () => this.deleteSelected());
    this.btnUp = btn("Up", "Bring the selected box forward: it wins where boxes overlap", () => this.restack(1));
    this.btnDown = btn("Down", "Send the selected box backward", () => this.restack(-1));
    this.btnLock = btn("Lock", "Lock/unlock the selected box (locked boxes cannot be moved or deleted; "
      + "drag over them to draw)", () => this.toggleLock());
    this.color = el("input", { type: "color", title: "Colour of the selected box" });
    // The colour well fires `input` on every colour it passes through and `change` once when the choice is made:
    // every colour is drawn at once, one undo step is recorded at the end.
    this.color.addEventListener("input", () => this.setColor(this.color.value));
    this.color.addEventListener("change", () => this.settle());
    this.btnClear = btn("Clear", "Remove every unlocked box (Ctrl+Z undoes)", () => this.clear());
    this.btnJson = btn("JSON", "Show the layout JSON (the node's layout_json widget) to paste or fix it",
      () => this.toggleJson());
    this.bar = el("div", { className: "lrdm-le-bar" }, this.btnDup, this.btnDel, this.btnUp, this.btnDown,
      this.btnLock, this.color, el("span", { className: "sep" }), this.btnClear, this.btnJson);
    this.banner = el("div", { className: "lrdm-le-banner" });
    this.banner.hidden = true;
    this.canvas = el("canvas", { tabIndex: 0 });
    this.canvas.dataset.lrdm = "layout-canvas";
    this.phrase = el("input", { className: "lrdm-le-phrase", type: "text", placeholder: "phrase, e.g. a red apple",
      maxLength: M.MAX_PHRASE_CHARS });
    this.phrase.hidden = true;
    this.stage = el("div", { className: "lrdm-le-stage" }, this.canvas, this.phrase);
    this.status = el("div", { className: "lrdm-le-status" });
    this.jsonArea = el("textarea", { className: "lrdm-le-json", spellcheck: false });
    this.jsonArea.hidden = true;
    this.root = el("div", { className: "lrdm-le widget-expands" }, this.bar, this.banner, this.status, this.stage,
      this.jsonArea);
    this.root.dataset.lrdm = "layout-editor";

    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.onDown(e));
    c.addEventListener("pointermove", (e) => this.onMove(e));
    c.addEventListener("pointerup", (e) => this.onUp(e));
    c.addEventListener("pointercancel", (e) => this.onUp(e, true));
    c.addEventListener("dblclick", (e) => this.onDoubleClick(e));
    c.addEventListener("keydown", (e) => this.onKey(e));
    c.addEventListener("wheel", (e) => {
      if (window.LiteGraph?.vueNodesMode || !app.canvas?.processMouseWheel) return;
      e.preventDefault();
      app.canvas.processMouseWheel(e); // zoom/pan the graph as over any other part of the node
    }, { passive: false });
    // Vue nodes drag the node on pointer events that reach it: keep ours (left button) inside the editor.
    for (const type of ["pointerdown", "pointermove", "pointerup"]) {
      this.root.addEventListener(type, (e) => { if (e.button !== 1 && !(e.buttons & 4)) e.stopPropagation(); });
    }
    this.phrase.addEventListener("input", () => this.setPhrase(this.phrase.value));
    this.phrase.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Enter" || e.key === "Escape") { this.closePhrase(); this.canvas.focus({ preventScroll: true }); }
    });
    this.phrase.addEventListener("blur", () => this.closePhrase());
    this.jsonArea.addEventListener("input", () => this.setJsonText(this.jsonArea.value));
    this.jsonArea.addEventListener("change", () => this.settle()); // one undo step per edit of the text
    this.jsonArea.addEventListener("keydown", (e) => e.stopPropagation());
  }

  // ---- widget <-> state -----------------------------------------------------------------------
  /** Re-read the widget when its text changed (load, paste, undo, typing in the JSON panel). */
  sync(force = false) {
    const text = this.json?.value ?? "";
    if (!force && text === this.lastText) return;
    this.lastText = text;
    const parsed = M.parseLayout(text);
    this.error = parsed.error ?? null;
    this.readOnly = !!parsed.readOnly || !parsed.state;
    if (parsed.state) this.state = parsed.state;
    if (this.selected >= this.state.objects.length) this.selected = -1;
    if (!this.jsonArea.hidden && document.activeElement !== this.jsonArea) this.jsonArea.value = text;
    this.refresh();
  }

  /** Write the state into the layout_json widget (the only place the editor stores anything). An edit that is
   * still going on (typing a phrase, dragging through the colour well) passes `done = false`: the widget follows
   * every step, the undo history gets one step when the edit ends (settle()). */
  commit(done = true) {
    const text = M.serialize(this.state);
    this.lastText = text;
    if (this.json) this.json.value = text; // DOM widget setter -> textarea + callback
    if (!this.jsonArea.hidden && document.activeElement !== this.jsonArea) this.jsonArea.value = text;
    this.node.setDirtyCanvas?.(true, true);
    if (done) this.settle(true);
    else this.unsettled = true;
    this.refresh();
  }

  /** An edit has ended (commit, blur, Enter, the colour well's change): one step for the change tracker. */
  settle(force = false) {
    if (!force && !this.unsettled) return;
    this.unsettled = false;
    markChanged();
  }

  setJsonText(text) {
    if (this.json) this.json.value = text; // kept verbatim, even when it does not parse
    this.sync();
    this.unsettled = true; // the textarea's change event (on blur) records the step
  }

  aspect() {
    const w = Number(this.node.widgets.find((x) => x.name === "width")?.value) || 512;
    const h = Number(this.node.widgets.find((x) => x.name === "height")?.value) || 512;
    return { w, h, r: w / h };
  }

  // ---- geometry -------------------------------------------------------------------------------
  layoutCanvas() {
    const { r } = this.aspect();
    const vue = !!window.LiteGraph?.vueNodesMode;
    this.root.style.height = vue ? "auto" : "100%";
    this.stage.style.aspectRatio = vue ? `${r}` : "";
    this.stage.style.maxHeight = vue ? "70vh" : "";
    const aw = this.stage.clientWidth, ah = this.stage.clientHeight;
    if (aw < 2 || ah < 2) return;
    const cw = Math.max(1, Math.min(aw, ah * r)), ch = cw / r;
    Object.assign(this.canvas.style, { width: `${cw}px`, height: `${ch}px`, left: `${(aw - cw) / 2}px`, top: "0px" });
    this.cssSize = [cw, ch];
    this.draw();
  }

  /** fitNode() once the DOM widget has its new size (two frames), however many changes asked for it. */
  scheduleFit(when = () => true) {
    if (this.fitPending) return;
    this.fitPending = true;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      this.fitPending = false;
      if (when()) this.fitNode();
    }));
  }

  /** Classic canvas: set the node's height so the canvas fills its area (after creation or an aspect change). */
  fitNode() {
    if (window.LiteGraph?.vueNodesMode || !this.cssSize) return;
    const aw = this.stage.clientWidth, ah = this.stage.clientHeight;
    const dh = aw / this.aspect().r - ah; // > 0: the canvas is height-limited; < 0: space left below it
    if (Math.abs(dh) < 2) return;
    const [w, h] = this.node.size;
    this.node.setSize([w, Math.max(300, h + dh)]);
    this.node.setDirtyCanvas?.(true, true);
  }

  /** Pointer position as normalised canvas coordinates (works under the graph's zoom transform). */
  toNorm(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height, pxX: r.width, pxY: r.height };
  }

  handleAt(p, box) {
    const tol = (HANDLE_PX / 2 + 3);
    const [x0, y0, x1, y1] = box;
    const pts = { nw: [x0, y0], n: [(x0 + x1) / 2, y0], ne: [x1, y0], e: [x1, (y0 + y1) / 2], se: [x1, y1],
      s: [(x0 + x1) / 2, y1], sw: [x0, y1], w: [x0, (y0 + y1) / 2] };
    const [cw, ch] = this.cssSize ?? [1, 1];
    for (const h of HANDLES) {
      const [hx, hy] = pts[h];
      if (Math.abs((p.x - hx) * cw) <= tol && Math.abs((p.y - hy) * ch) <= tol) return h;
    }
    return null;
  }

  // ---- pointer --------------------------------------------------------------------------------
  onDown(e) {
    if (e.button !== 0) return;
    this.canvas.focus({ preventScroll: true });
    this.closePhrase();
    if (this.readOnly) { this.flash(); return; }
    const p = this.toNorm(e);
    const sel = this.state.objects[this.selected];
    const handle = sel && !sel.locked ? this.handleAt(p, sel.box) : null;
    if (handle) {
      this.drag = { mode: "resize", i: this.selected, handle, start: p, orig: sel.box };
    } else {
      const i = M.hitTest(this.state, p.x, p.y, (o) => !o.locked);
      if (i >= 0) {
        this.selected = i;
        this.drag = { mode: "move", i, start: p, orig: this.state.objects[i].box };
      } else {
        this.drag = { mode: "draw", start: p, cur: p };
      }
    }
    this.drag.moved = false;
    this.canvas.setPointerCapture?.(e.pointerId);
    this.refresh();
  }

  onMove(e) {
    const p = this.toNorm(e);
    const d = this.drag;
    if (!d) { this.hoverCursor(p); return; }
    const dxPx = (p.x - d.start.x) * p.pxX, dyPx = (p.y - d.start.y) * p.pxY;
    if (Math.abs(dxPx) >= 1 || Math.abs(dyPx) >= 1) d.moved = true;
    if (d.mode === "draw") d.cur = p;
    else if (d.mode === "move") {
      this.state = M.updateObject(this.state, d.i, { box: M.moveBox(d.orig, p.x - d.start.x, p.y - d.start.y) });
    } else if (d.mode === "resize") {
      this.state = M.updateObject(this.state, d.i, { box: M.resizeBox(d.orig, d.handle, p.x, p.y) });
    }
    this.draw();
  }

  onUp(e, cancelled = false) {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    this.canvas.releasePointerCapture?.(e.pointerId);
    if (cancelled) { this.sync(true); return; }
    const p = this.toNorm(e);
    if (d.mode === "draw") {
      const wPx = Math.abs(p.x - d.start.x) * p.pxX, hPx = Math.abs(p.y - d.start.y) * p.pxY;
      if (wPx >= MIN_DRAW_PX && hPx >= MIN_DRAW_PX) {
        if (this.state.objects.length >= M.MAX_OBJECTS) { this.flash(`at most ${M.MAX_OBJECTS} boxes`); return; }
        this.state = M.addBox(this.state, M.boxFrom(d.start.x, d.start.y, p.x, p.y));
        this.selected = this.state.objects.length - 1;
        this.commit();
        this.openPhrase(this.selected);
        return;
      }
      this.selected = M.hitTest(this.state, p.x, p.y); // a click: select (locked boxes too) or deselect
      this.refresh();
      return;
    }
    if (d.moved) this.commit();
    else this.refresh();
  }

  onDoubleClick(e) {
    e.stopPropagation();
    if (this.readOnly) return;
    const p = this.toNorm(e);
    const i = M.hitTest(this.state, p.x, p.y);
    if (i >= 0) { this.selected = i; this.openPhrase(i); }
  }

  hoverCursor(p) {
    const sel = this.state.objects[this.selected];
    const h = sel && !sel.locked ? this.handleAt(p, sel.box) : null;
    const over = M.hitTest(this.state, p.x, p.y, (o) => !o.locked) >= 0;
    this.canvas.style.cursor = h ? CURSORS[h] : over ? "move" : "crosshair";
  }

  onKey(e) {
    const sel = this.state.objects[this.selected];
    let handled = true;
    if ((e.key === "Delete" || e.key === "Backspace") && sel) this.deleteSelected();
    else if (e.key === "Escape") { this.selected = -1; this.refresh(); }
    else if (e.key === "Enter" && sel) this.openPhrase(this.selected);
    else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "d" && sel) this.duplicate();
    else if (e.key.startsWith("Arrow") && sel && !sel.locked && !this.readOnly) {
      const [cw, ch] = this.cssSize ?? [1, 1];
      const step = e.shiftKey ? 10 : 1;
      const dx = { ArrowLeft: -step, ArrowRight: step }[e.key] ?? 0, dy = { ArrowUp: -step, ArrowDown: step }[e.key] ?? 0;
      this.state = M.updateObject(this.state, this.selected, { box: M.moveBox(sel.box, dx / cw, dy / ch) });
      this.commit();
    } else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }

  // ---- actions --------------------------------------------------------------------------------
  guard(needSelection = true) {
    if (this.readOnly) { this.flash(); return false; }
    return !needSelection || !!this.state.objects[this.selected];
  }

  deleteSelected() {
    if (!this.guard()) return;
    if (this.state.objects[this.selected].locked) { this.flash("the box is locked: unlock it first"); return; }
    this.state = M.removeObject(this.state, this.selected);
    this.selected = -1;
    this.commit();
  }

  duplicate() {
    if (!this.guard()) return;
    if (this.state.objects.length >= M.MAX_OBJECTS) { this.flash(`at most ${M.MAX_OBJECTS} boxes`); return; }
    this.state = M.duplicate(this.state, this.selected);
    this.selected = this.state.objects.length - 1;
    this.commit();
  }

  restack(dir) {
    if (!this.guard()) return;
    this.state = M.restack(this.state, this.selected, dir);
    this.commit();
  }

  toggleLock() {
    if (!this.guard()) return;
    const o = this.state.objects[this.selected];
    this.state = M.updateObject(this.state, this.selected, { locked: !o.locked });
    this.commit();
  }

  setColor(c) {
    if (!this.guard()) return;
    this.state = M.updateObject(this.state, this.selected, { color: c });
    this.commit(false);
  }

  clear() {
    if (!this.guard(false)) return;
    this.state = M.clearUnlocked(this.state);
    this.selected = -1;
    this.commit();
  }

  setPhrase(text) {
    if (this.editing < 0 || this.readOnly) return;
    this.state = M.updateObject(this.state, this.editing, { phrase: text.slice(0, M.MAX_PHRASE_CHARS) });
    this.commit(false);
  }

  openPhrase(i) {
    const o = this.state.objects[i];
    if (!o || !this.cssSize) return;
    this.editing = i;
    const [cw, ch] = this.cssSize;
    const left = parseFloat(this.canvas.style.left) || 0, top = parseFloat(this.canvas.style.top) || 0;
    const x = left + o.box[0] * cw + 2, y = top + o.box[1] * ch + 2;
    Object.assign(this.phrase.style, { left: `${Math.min(x, left + cw - 124)}px`, top: `${Math.min(y, top + ch - 22)}px`,
      width: `${Math.max(120, (o.box[2] - o.box[0]) * cw - 4)}px` });
    this.phrase.value = o.phrase;
    this.phrase.hidden = false;
    this.phrase.focus({ preventScroll: true });
    this.phrase.select();
  }

  closePhrase() {
    if (this.phrase.hidden) return;
    this.phrase.hidden = true;
    this.editing = -1;
    this.settle(); // the typed phrase is one undo step
    this.refresh();
  }

  toggleJson() {
    this.jsonArea.hidden = !this.jsonArea.hidden;
    this.btnJson.classList.toggle("on", !this.jsonArea.hidden);
    this.jsonArea.value = this.json?.value ?? "";
    this.node.setDirtyCanvas?.(true, true);
  }

  flash(msg) {
    this.status.textContent = msg ?? (this.error ? "fix the layout JSON first (JSON button)" : "read-only layout");
    this.status.className = "lrdm-le-status warn";
  }

  setBackground(url) {
    if (!url) { this.bgImage = null; this.draw(); return; }
    const img = new Image();
    img.onload = () => { this.bgImage = img; this.draw(); };
    img.src = url;
  }

  /** The image behind the boxes: the linked Load Image's preview if any, else the last run's image. */
  background() {
    const link = this.node.getInputLink?.(this.node.findInputSlot?.("image") ?? -1);
    const src = link ? this.node.graph?.getNodeById(link.origin_id) : null;
    const img = src?.imgs?.[0];
    if (img?.complete && img.naturalWidth) return img;
    return link ? this.bgImage : null;
  }

  // ---- drawing --------------------------------------------------------------------------------
  refresh() {
    const sel = this.state.objects[this.selected];
    const editable = !this.readOnly;
    this.btnDup.disabled = this.btnUp.disabled = this.btnDown.disabled = this.btnLock.disabled = !(sel && editable);
    this.btnDel.disabled = !(sel && editable && !sel.locked);
    this.btnLock.textContent = sel?.locked ? "Unlock" : "Lock";
    this.color.disabled = !(sel && editable);
    this.color.style.visibility = sel ? "visible" : "hidden";
    if (sel?.color) this.color.value = sel.color;
    this.btnClear.disabled = !editable || !this.state.objects.some((o) => !o.locked);
    this.banner.hidden = !this.error;
    if (this.error) this.showBanner();
    const issues = M.problems(this.state);
    const n = this.state.objects.length;
    this.status.className = "lrdm-le-status" + (issues.length && n ? " warn" : "");
    this.status.textContent = this.readOnly ? "read-only: see the message above"
      : issues.length && n ? issues.slice(0, 2).join("; ")
      : n ? `${n} box${n > 1 ? "es" : ""} · drag to draw · double-click to rename · Del deletes`
        : "Drag on the canvas to draw a box, then type its phrase.";
    this.draw();
  }

  showBanner() {
    this.banner.replaceChildren(`Layout JSON: ${this.error}. ${this.readOnly && this.state.objects.length
      ? "Shown read-only; the text is kept as it is." : "The text is kept as it is; fix it under JSON."}`);
    if (!this.readOnly || !this.state.objects.length) {
      const reset = el("button", { type: "button", textContent: "Reset to empty",
        title: "Replace the text with an empty layout (Ctrl+Z undoes)" });
      reset.addEventListener("click", (e) => {
        e.stopPropagation();
        this.state = M.emptyState(); this.error = null; this.readOnly = false; this.selected = -1;
        this.commit();
      });
      this.banner.append(reset);
    }
  }

  draw() {
    const c = this.canvas;
    if (!this.cssSize) return;
    const [cw, ch] = this.cssSize;
    const rect = c.getBoundingClientRect();
    const zoom = rect.width > 0 ? Math.max(1, rect.width / cw) : 1;
    const k = (window.devicePixelRatio || 1) * zoom;
    const bw = Math.round(cw * k), bh = Math.round(ch * k);
    if (c.width !== bw || c.height !== bh) { c.width = bw; c.height = bh; }
    const g = c.getContext("2d");
    g.setTransform(k, 0, 0, k, 0, 0);
    g.clearRect(0, 0, cw, ch);
    g.fillStyle = "#2a2a2a";
    g.fillRect(0, 0, cw, ch);
    const bg = this.background();
    this.drawnBg = bg;
    if (bg) {
      g.globalAlpha = 0.85;
      g.drawImage(bg, 0, 0, cw, ch);
      g.globalAlpha = 1;
    } else {
      g.strokeStyle = "rgba(255,255,255,0.06)";
      g.lineWidth = 1;
      for (let i = 1; i < 8; i++) {
        g.beginPath(); g.moveTo((i * cw) / 8, 0); g.lineTo((i * cw) / 8, ch); g.stroke();
        g.beginPath(); g.moveTo(0, (i * ch) / 8); g.lineTo(cw, (i * ch) / 8); g.stroke();
      }
    }
    if (this.error && !this.state.objects.length) return;
    g.globalAlpha = this.readOnly ? 0.5 : 1;
    for (const i of M.paintOrder(this.state)) this.drawObject(g, i, cw, ch);
    const sel = this.state.objects[this.selected];
    if (sel) this.drawSelection(g, sel, cw, ch);
    const d = this.drag;
    if (d?.mode === "draw" && d.cur) {
      const [x0, y0, x1, y1] = M.boxFrom(d.start.x, d.start.y, d.cur.x, d.cur.y);
      g.setLineDash([5, 4]); g.strokeStyle = "#fff"; g.lineWidth = 1.5;
      g.strokeRect(x0 * cw, y0 * ch, (x1 - x0) * cw, (y1 - y0) * ch);
      g.setLineDash([]);
    }
    g.globalAlpha = 1;
    if (!this.state.objects.length && !d) {
      g.fillStyle = "rgba(255,255,255,0.45)"; g.font = "13px system-ui,sans-serif"; g.textAlign = "center";
      g.fillText("drag to draw a box", cw / 2, ch / 2);
      g.textAlign = "left";
    }
  }

  drawObject(g, i, cw, ch) {
    const o = this.state.objects[i];
    const color = /^#[0-9a-f]{6}$/i.test(o.color ?? "") ? o.color : M.PALETTE[i % M.PALETTE.length];
    const [x0, y0, x1, y1] = o.box;
    const x = x0 * cw, y = y0 * ch, w = (x1 - x0) * cw, h = (y1 - y0) * ch;
    g.fillStyle = color + "38";
    g.fillRect(x, y, w, h);
    g.strokeStyle = color; g.lineWidth = 2;
    if (o.locked) g.setLineDash([6, 3]);
    g.strokeRect(x + 1, y + 1, Math.max(0, w - 2), Math.max(0, h - 2));
    g.setLineDash([]);
    if (this.editing === i) return; // the phrase input sits where the label would be
    const named = /\S/.test(o.phrase);
    const phrase = o.phrase.length > M.LABEL_CHARS ? o.phrase.slice(0, M.LABEL_CHARS) : o.phrase; // cut first
    const label = `${i + 1} ${named ? phrase.trim() : "(no phrase)"}${o.locked ? " [locked]" : ""}`;
    g.font = "600 12px system-ui,sans-serif";
    const maxW = Math.max(24, w - 4);
    const text = M.fitLabel(label, maxW - 8, (t) => g.measureText(t).width);
    const tw = Math.min(maxW, g.measureText(text).width + 8);
    g.fillStyle = named ? color : "#c0392b";
    g.fillRect(x + 2, y + 2, tw, 17);
    g.fillStyle = textColorOn(named ? color : "#c0392b");
    g.fillText(text, x + 6, y + 15);
  }

  drawSelection(g, o, cw, ch) {
    const [x0, y0, x1, y1] = o.box;
    g.setLineDash([4, 3]); g.strokeStyle = "#fff"; g.lineWidth = 1;
    g.strokeRect(x0 * cw - 2, y0 * ch - 2, (x1 - x0) * cw + 4, (y1 - y0) * ch + 4);
    g.setLineDash([]);
    if (o.locked) return;
    const xs = { w: x0, n: (x0 + x1) / 2, e: x1 }, ys = { n: y0, w: (y0 + y1) / 2, s: y1 };
    for (const h of HANDLES) {
      const hx = h.includes("w") ? x0 : h.includes("e") ? x1 : xs.n;
      const hy = h.includes("n") ? y0 : h.includes("s") ? y1 : ys.w;
      g.fillStyle = "#fff"; g.strokeStyle = "#000"; g.lineWidth = 1;
      g.fillRect(hx * cw - HANDLE_PX / 2, hy * ch - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
      g.strokeRect(hx * cw - HANDLE_PX / 2, hy * ch - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
    }
  }

  destroy() {
    this.resizeObserver.disconnect();
    clearInterval(this.bgTimer);
  }
}

/** Tell the workflow's change tracker (undo/redo, unsaved mark) that the graph changed. */
function markChanged() {
  try {
    app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
  } catch (e) {
    console.debug("LRDM: change tracker unavailable", e);
  }
}

const viewUrl = (f) => api.apiURL(`/view?filename=${encodeURIComponent(f.filename)}&type=${encodeURIComponent(f.type)}`
  + `&subfolder=${encodeURIComponent(f.subfolder ?? "")}&rand=${Math.random()}`);

/** Hook LRDM_Layout's node class: the editor widget, hidden JSON widget, sync on load/paste/undo/run. */
export function registerLayoutEditor(nodeType) {
  const chain = (name, fn) => {
    const prev = nodeType.prototype[name];
    nodeType.prototype[name] = function (...args) {
      const r = prev?.apply(this, args);
      fn.apply(this, args);
      return r;
    };
  };

  chain("onNodeCreated", function () {
    const json = this.widgets?.find((w) => w.name === "layout_json");
    if (!json) return;
    // The STRING widget stays (serialised, sent in prompts) but is hidden; the editor shows and edits it.
    json.hidden = true;
    if (json.options) json.options.hidden = true; // Vue nodes skip widgets with options.hidden
    json.computeSize = () => [0, -4];
    const editor = new LayoutEditor(this);
    this.lrdmEditor = editor;
    const widget = this.addDOMWidget("layout_editor", "lrdm_layout_editor", editor.root, {
      serialize: false,
      margin: 6,
      getValue: () => undefined,
      setValue: () => {},
      getMinHeight: () => 280,
      onDraw: () => editor.sync(), // picks up values set behind the editor's back (cheap string compare)
    });
    widget.serialize = false; // keep it out of widgets_values: the JSON widget is the state
    const jsonCallback = json.callback;
    json.callback = function (...args) {
      const r = jsonCallback?.apply(this, args);
      editor.sync();
      return r;
    };
    for (const name of ["width", "height"]) {
      const w = this.widgets.find((x) => x.name === name);
      if (!w) continue;
      const cb = w.callback;
      w.callback = function (...args) {
        const r = cb?.apply(this, args);
        editor.layoutCanvas();
        editor.scheduleFit();
        return r;
      };
    }
    const [w, h] = this.size;
    this.setSize([Math.max(w, 400), Math.max(h, 520)]);
    editor.scheduleFit(() => !this.lrdmConfigured);
  });

  chain("onConfigure", function () {
    this.lrdmConfigured = true; // a loaded node keeps its saved size
    this.lrdmEditor?.sync(true);
    this.lrdmEditor?.layoutCanvas();
  });

  chain("onExecuted", function (output) {
    const bg = output?.lrdm_background?.[0];
    this.lrdmEditor?.setBackground(bg ? viewUrl(bg) : null);
  });

  chain("onConnectionsChange", function () {
    this.lrdmEditor?.draw();
  });

  chain("onRemoved", function () {
    const editor = this.lrdmEditor;
    if (!editor) return;
    editor.destroy();
    handOver(editor, this.id);
  });
}

/**
 * Vue nodes (frontend 1.32) keep a node's widget component when the graph is reloaded with the same node
 * ids (undo, redo), so a removed node's editor element would stay on screen instead of the new node's.
 * While the old element is still shown, swap in the editor of the node that now has its id.
 */
function handOver(old, id, tries = 40) {
  setTimeout(() => {
    if (!old.root.isConnected) return;
    const graph = app.canvas?.graph ?? app.graph;
    const fresh = graph?.getNodeById?.(id)?.lrdmEditor;
    if (fresh && fresh !== old && !fresh.root.isConnected) {
      old.root.replaceWith(fresh.root);
      fresh.layoutCanvas();
    } else if (tries > 0) handOver(old, id, tries - 1);
  }, 50);
}
