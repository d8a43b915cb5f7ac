"""Convert a UI-format (LiteGraph) ComfyUI workflow into an API prompt, using /object_info.

What the frontend's ``graphToPrompt`` does, for the cases this repo needs:

- ``widgets_values`` fill the node's widget inputs in the order /object_info lists them
  (``input_order``: required, then optional); an input is a widget when its type is INT, FLOAT,
  STRING, BOOLEAN, COMBO or a list of options (and not ``forceInput``), or when the saved node
  lists it with a ``widget`` entry (custom widget types). The extra ``control_after_generate``
  value ("fixed", "randomize", ...) after a seed-like widget and the upload button's value after
  an ``image_upload`` combo are skipped. Dict-form ``widgets_values`` map by name.
- links become ``[origin_node_id, origin_slot]``; a link into a widget input overrides its value.
- virtual nodes: Note/MarkdownNote dropped; Reroute followed to its source; PrimitiveNode's value
  written into every input it feeds.
- mode 2 (muted/never) nodes are dropped, and so are links from them; mode 4 (bypassed) nodes are
  dropped and a link from their output is re-routed to the input of the same type (the input at
  the same slot index first, then the first matching one), as the frontend does.
- list values are wrapped as ``{"__value__": [...]}`` (a bare list means a link in API format).

Subgraphs and legacy group nodes are rejected with a clear message (unpack them in the UI first).
"""

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

logger = logging.getLogger("lrdm.hostkit.workflow")

WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize", "increment-wrap"})
UPLOAD_OPTIONS = ("image_upload", "video_upload", "audio_upload", "animated_image_upload", "upload")
UPLOAD_VALUES = frozenset({"image", "video", "audio", "file", ""})
NOTE_TYPES = frozenset({"Note", "MarkdownNote", "Label (rgthree)"})
MODE_MUTED, MODE_BYPASSED = 2, 4


class WorkflowError(ValueError):
    """The workflow cannot be converted (unknown node types, subgraphs, broken links)."""


def load_workflow(path: str | Path) -> dict:
    """Read a UI-format workflow; reject API-format prompts with a helpful message."""
    data = json.loads(Path(path).read_text())
    if not is_ui_workflow(data):
        raise WorkflowError(
            f"{path}: not a UI-format workflow (no 'nodes' list); API prompts can be POSTed as they are"
        )
    return data


def is_ui_workflow(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list)


def _spec_type_and_opts(spec) -> tuple:
    """('INT', {...}) from an /object_info input spec such as ["INT", {...}] or [[opts], {...}]."""
    if isinstance(spec, (list, tuple)) and spec:
        kind = spec[0]
        opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        return ("COMBO" if isinstance(kind, list) else kind), opts
    return spec, {}


def _ordered_inputs(info: Mapping) -> list[tuple[str, object]]:
    """(name, spec) of required then optional inputs, in the order the frontend creates them."""
    out = []
    order = info.get("input_order") or {}
    for section in ("required", "optional"):
        specs = (info.get("input") or {}).get(section) or {}
        names = order.get(section) or list(specs)
        out.extend((n, specs[n]) for n in names if n in specs)
    return out


def _has_control(name: str, kind: str, opts: Mapping) -> bool:
    if "control_after_generate" in opts:
        return bool(opts["control_after_generate"])
    return kind == "INT" and name in ("seed", "noise_seed")


def widget_inputs(info: Mapping, ui_node: Mapping | None = None) -> list[tuple[str, str, dict]]:
    """(name, type, options) of the node's widget inputs, in widgets_values order."""
    ui_widgets = {i.get("name") for i in (ui_node or {}).get("inputs") or [] if i.get("widget")}
    out = []
    for name, spec in _ordered_inputs(info):
        kind, opts = _spec_type_and_opts(spec)
        standard = kind in WIDGET_TYPES and not opts.get("forceInput")
        if standard or name in ui_widgets:
            out.append((name, kind, opts))
    return out


def map_widget_values(info: Mapping, ui_node: Mapping) -> dict:
    """Widget input name -> value, from the saved node's widgets_values."""
    values = ui_node.get("widgets_values")
    widgets = widget_inputs(info, ui_node)
    if isinstance(values, dict):
        return {name: values[name] for name, _, _ in widgets if name in values}
    values = list(values or [])
    result, i = {}, 0
    for name, kind, opts in widgets:
        if i >= len(values):
            break
        result[name] = values[i]
        i += 1
        nxt = values[i] if i < len(values) else None
        if _has_control(name, kind, opts) and nxt in CONTROL_VALUES:
            i += 1
        elif any(opts.get(k) for k in UPLOAD_OPTIONS) and isinstance(nxt, str) and nxt in UPLOAD_VALUES:
            i += 1
    if i < len(values):
        logger.debug(
            "node %s (%s): %d widget values left over", ui_node.get("id"), ui_node.get("type"), len(values) - i
        )
    return result


def _links_table(workflow: Mapping) -> dict:
    """link id -> (origin_id, origin_slot, target_id, target_slot, type), both storage formats."""
    table = {}
    for link in workflow.get("links") or []:
        if isinstance(link, dict):
            table[link["id"]] = (
                link["origin_id"],
                link["origin_slot"],
                link["target_id"],
                link["target_slot"],
                link.get("type"),
            )
        elif link:
            table[link[0]] = tuple(link[1:6])
    return table


def _types_match(a, b) -> bool:
    if a in ("*", None, "") or b in ("*", None, ""):
        return True
    return bool(set(str(a).split(",")) & set(str(b).split(",")))


class _Resolver:
    """Follows links through Reroute and bypassed nodes to their real source."""

    def __init__(self, workflow: Mapping):
        self.nodes = {n["id"]: n for n in workflow["nodes"]}
        self.links = _links_table(workflow)

    def source(self, link_id, seen=()):
        """('link', node_id, slot) | ('value', v) | None for a link arriving at some input."""
        if link_id is None or link_id not in self.links:
            return None
        origin_id, origin_slot, _, _, link_type = self.links[link_id]
        node = self.nodes.get(origin_id)
        if node is None or origin_id in seen:
            return None
        seen = (*seen, origin_id)
        mode = node.get("mode", 0)
        if node.get("type") == "Reroute":
            inputs = node.get("inputs") or []
            return self.source(inputs[0].get("link"), seen) if inputs else None
        if node.get("type") == "PrimitiveNode":
            values = node.get("widgets_values") or []
            return ("value", values[0]) if values and mode != MODE_MUTED else None
        if mode == MODE_MUTED:
            return None
        if mode == MODE_BYPASSED:
            return self._through_bypass(node, origin_slot, link_type, seen)
        return ("link", origin_id, origin_slot)

    def _through_bypass(self, node, slot, link_type, seen):
        outputs = node.get("outputs") or []
        out_type = outputs[slot].get("type") if slot < len(outputs) else link_type
        inputs = node.get("inputs") or []
        candidates = ([inputs[slot]] if slot < len(inputs) else []) + list(inputs)
        for inp in candidates:
            if inp.get("link") is not None and _types_match(inp.get("type"), out_type):
                return self.source(inp["link"], seen)
        return None


def _wrap(value):
    return {"__value__": value} if isinstance(value, list) else value


def ui_to_api(workflow: Mapping, object_info: Mapping) -> dict:
    """The API prompt ({id: {class_type, inputs, _meta}}) for a UI-format workflow."""
    if not is_ui_workflow(workflow):
        raise WorkflowError("not a UI-format workflow (no 'nodes' list)")
    if (workflow.get("definitions") or {}).get("subgraphs"):
        raise WorkflowError("the workflow contains subgraphs; unpack them in the UI and save again")
    resolver = _Resolver(workflow)
    skip = NOTE_TYPES | {"Reroute", "PrimitiveNode"}
    missing = sorted(
        {
            n.get("type")
            for n in workflow["nodes"]
            if n.get("type") not in object_info
            and n.get("type") not in skip
            and n.get("mode", 0) not in (MODE_MUTED, MODE_BYPASSED)
        }
    )
    if missing:
        hint = (
            " (legacy group nodes: convert them to nodes first)"
            if any("workflow>" in str(t) or "workflow/" in str(t) for t in missing)
            else ""
        )
        raise WorkflowError(f"node types not installed on the server: {', '.join(map(str, missing))}{hint}")

    prompt = {}
    for node in sorted(workflow["nodes"], key=lambda n: n.get("order", 0)):
        ntype = node.get("type")
        if ntype in skip or node.get("mode", 0) in (MODE_MUTED, MODE_BYPASSED):
            continue
        info = object_info[ntype]
        inputs = {name: _wrap(v) for name, v in map_widget_values(info, node).items()}
        for inp in node.get("inputs") or []:
            if inp.get("link") is None:
                continue
            src = resolver.source(inp["link"])
            name = inp.get("name")
            if inp.get("widget") and isinstance(inp["widget"], dict):
                name = inp["widget"].get("name", name)
            if src is None:
                if not inp.get("widget"):
                    inputs.pop(name, None)
                continue
            inputs[name] = _wrap(src[1]) if src[0] == "value" else [str(src[1]), src[2]]
        prompt[str(node["id"])] = {
            "class_type": ntype,
            "inputs": inputs,
            "_meta": {"title": node.get("title") or info.get("display_name") or ntype},
        }
    return dict(sorted(prompt.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0]))


def set_checkpoint(prompt: dict, ckpt_name: str) -> int:
    """Point every literal ``ckpt_name`` input at ``ckpt_name``; returns how many changed."""
    n = 0
    for node in prompt.values():
        if "ckpt_name" in node["inputs"] and not isinstance(node["inputs"]["ckpt_name"], list):
            node["inputs"]["ckpt_name"] = ckpt_name
            n += 1
    return n


def apply_overrides(prompt: dict, overrides: Iterable[str]) -> None:
    """Apply ``[target.]input=value`` overrides; target is a node id or class_type, else all nodes.

    Values are parsed as JSON when possible (``steps=4``, ``text="a cat"``), else taken as strings.
    Only literal inputs are replaced, never links; an override that matches nothing raises.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise WorkflowError(f"override {item!r}: expected [node.]input=value")
        target, _, name = key.rpartition(".")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        hits = 0
        for node_id, node in prompt.items():
            if target and target not in (node_id, node["class_type"]):
                continue
            if name in node["inputs"] and not isinstance(node["inputs"][name], list):
                node["inputs"][name] = _wrap(value)
                hits += 1
        if not hits:
            raise WorkflowError(f"override {item!r} matched no literal input")


def shrink(prompt: dict, size: int = 64, max_steps: int = 3) -> None:
    """Make a prompt cheap for CI: literal width/height pairs -> size, batch_size -> 1, steps capped."""
    for node in prompt.values():
        inp = node["inputs"]
        if isinstance(inp.get("width"), int) and isinstance(inp.get("height"), int):
            inp["width"] = inp["height"] = size
            if isinstance(inp.get("batch_size"), int):
                inp["batch_size"] = 1
        if isinstance(inp.get("steps"), int):
            inp["steps"] = min(inp["steps"], max_steps)
