// Unit tests of the editor's state model (web/js/layout_editor/model.js) under `node --test`, no browser.
import assert from "node:assert/strict";
import test from "node:test";
import * as M from "../../web/js/layout_editor/model.js";

const TWO = '{"version":1,"objects":[{"phrase":"a cat","box":[0.1,0.1,0.4,0.5]},'
  + '{"phrase":"a dog","box":[0.3,0.3,0.9,0.9],"locked":true}],"background":"a lawn"}';

test("parse and serialize round-trip, keeping other top-level keys", () => {
  const { state, error } = M.parseLayout(TWO);
  assert.equal(error, undefined);
  assert.deepEqual(JSON.parse(M.serialize(state)), JSON.parse(TWO));
});

test("old and foreign spellings are read: no version, a bare list, pixel units", () => {
  assert.equal(M.parseLayout('{"objects": []}').state.version, 1);
  assert.equal(M.parseLayout('[{"phrase": "x", "box": [0, 0, 1, 1]}]').state.objects.length, 1);
  const px = M.parseLayout('{"units":"px","width":200,"height":100,"objects":[{"phrase":"x","box":[0,0,100,50]}]}');
  assert.deepEqual(px.state.objects[0].box, [0, 0, 0.5, 0.5]);
  assert.ok(!("units" in JSON.parse(M.serialize(px.state))));
});

test("bad text is an error, never an exception; a newer version is read-only", () => {
  for (const bad of ["{", '{"objects": 3}', '{"objects": [{"phrase": "x"}]}', '{"version": 0, "objects": []}']) {
    const r = M.parseLayout(bad);
    assert.ok(r.error, bad);
  }
  const newer = M.parseLayout('{"version": 2, "objects": []}');
  assert.ok(newer.readOnly && /newer/.test(newer.error));
  assert.deepEqual(M.parseLayout("").state, M.emptyState());
});

test("new boxes go on top, get their own colour, and win the hit test", () => {
  let s = M.emptyState();
  s = M.addBox(s, M.boxFrom(0.5, 0.5, 0.1, 0.1), "a");
  s = M.addBox(s, [0.2, 0.2, 0.9, 0.9], "b");
  assert.deepEqual(s.objects[0].box, [0.1, 0.1, 0.5, 0.5]);
  assert.notEqual(s.objects[0].color, s.objects[1].color);
  assert.equal(M.hitTest(s, 0.3, 0.3), 1);
  s = M.restack(s, 1, -1);
  assert.equal(M.hitTest(s, 0.3, 0.3), 0);
  assert.deepEqual(M.paintOrder(s), [1, 0]);
});

test("paint order matches the backend: z, then larger regions below smaller", () => {
  const s = M.parseLayout('{"objects":[{"phrase":"s","box":[0,0,0.2,0.2]},{"phrase":"l","box":[0,0,1,1]}]}').state;
  assert.deepEqual(M.paintOrder(s), [1, 0]);
});

test("move and resize stay on the canvas; locked boxes survive clear", () => {
  assert.deepEqual(M.moveBox([0.8, 0.8, 1, 1], 0.5, 0.5), [0.8, 0.8, 1, 1]);
  const r = M.resizeBox([0.2, 0.2, 0.4, 0.4], "nw", 0.9, 0.9);
  assert.ok(r[0] < r[2] && r[1] < r[3]);
  const s = M.parseLayout(TWO).state;
  assert.deepEqual(M.clearUnlocked(s).objects.map((o) => o.phrase), ["a dog"]);
  assert.ok(M.problems(M.emptyState())[0].includes("empty layout"));
  assert.ok(M.problems(M.addBox(M.emptyState(), [0, 0, 0.5, 0.5]))[0].includes("no phrase"));
});

test("duplicate makes an unlocked copy on top", () => {
  const s = M.duplicate(M.parseLayout(TWO).state, 1);
  assert.equal(s.objects.length, 3);
  assert.equal(s.objects[2].phrase, "a dog");
  assert.ok(!s.objects[2].locked);
  assert.equal(M.hitTest(s, 0.92, 0.92), 2);
});

// ---- caps on untrusted layouts (issue 19) ---------------------------------------------------------------------

const boxes = (n, phrase = "a cat") => JSON.stringify({ version: 1,
  objects: Array.from({ length: n }, () => ({ phrase, box: [0.1, 0.1, 0.5, 0.5] })) });

test("text over the size cap is not parsed; layouts over the other caps are read-only with a message", () => {
  const huge = boxes(1, "a".repeat(M.MAX_JSON_CHARS));
  const t0 = performance.now();
  const r = M.parseLayout(huge);
  assert.ok(performance.now() - t0 < 50);
  assert.ok(!r.state && /more than the 100000/.test(r.error), r.error);
  const many = M.parseLayout(boxes(1000));
  assert.ok(many.readOnly && many.state.objects.length === 1000 && /1000 boxes, more than 16/.test(many.error));
  const long = M.parseLayout(boxes(1, "b".repeat(60_000)));
  assert.ok(long.readOnly && /phrase of box 1 has 60000 characters/.test(long.error), long.error);
  const bg = M.parseLayout(JSON.stringify({ objects: [], background: "c".repeat(20_000) }));
  assert.ok(bg.readOnly && /background/.test(bg.error));
  assert.ok(!M.parseLayout(boxes(16, "d".repeat(M.MAX_PHRASE_CHARS))).readOnly);
});

test("labels are cut before they are measured: a 100 kB phrase takes a handful of measures", () => {
  let calls = 0, chars = 0;
  const measure = (s) => { calls++; chars += s.length; return s.length * 7; };
  const text = M.fitLabel("1 " + "e".repeat(100_000), 200, measure);
  assert.ok(measure(text) <= 200 && text.endsWith("…"), text);
  assert.ok(calls <= 10 && chars <= 10 * M.LABEL_CHARS, `${calls} measures of ${chars} characters`);
  assert.equal(M.fitLabel("1 a cat", 200, measure), "1 a cat");
});

test("the paint order is sorted once per state, not on every pointer move", () => {
  const { state } = M.parseLayout(boxes(2000, "x"));
  const first = M.paintOrder(state);
  assert.equal(M.paintOrder(state), first); // the same array: no new sort
  assert.ok(Object.isFrozen(first));
  const moved = M.updateObject(state, 0, { box: [0, 0, 0.2, 0.2] });
  assert.notEqual(M.paintOrder(moved), first);
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) M.hitTest(state, 0.3, 0.3);
  assert.ok(performance.now() - t0 < 1000);
  assert.deepEqual(M.restack(M.parseLayout(boxes(2)).state, 0, 1).objects.map((o) => o.z), [1, 0]);
});
