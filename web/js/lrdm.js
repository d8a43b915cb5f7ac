// LRDM frontend extension: the layout editor inside LRDM_Layout (web/js/layout_editor/) and the preset buttons
// on the nodes with LRDM's method inputs (web/js/presets.js).
import { app } from "../../../scripts/app.js";
import { registerLayoutEditor } from "./layout_editor/editor.js";
import { PRESETS, PRESET_LABELS } from "./presets.js";

/** Set the node's method widgets to a preset's values (widgets the node lacks are skipped). */
export function applyPreset(node, name) {
  for (const [key, value] of Object.entries(PRESETS[name])) {
    const widget = node.widgets?.find((w) => w.name === key);
    if (widget) {
      widget.value = value;
      widget.callback?.(value);
    }
  }
  node.setDirtyCanvas?.(true, true);
}

/** One button per preset, after the node's own widgets; buttons are not saved with the workflow. */
function addPresetButtons(nodeType) {
  const created = nodeType.prototype.onNodeCreated;
  nodeType.prototype.onNodeCreated = function () {
    const r = created?.apply(this, arguments);
    for (const [name, label] of Object.entries(PRESET_LABELS)) {
      const button = this.addWidget("button", label, null, () => applyPreset(this, name));
      button.serialize = false;
      button.options = { ...(button.options ?? {}), serialize: false };
    }
    return r;
  };
}

app.registerExtension({
  name: "LRDM.core",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name === "LRDM_Layout") registerLayoutEditor(nodeType);
    const inputs = { ...(nodeData?.input?.required ?? {}), ...(nodeData?.input?.optional ?? {}) };
    if (nodeData?.name?.startsWith("LRDM_") && "t0" in inputs && "attn_bias" in inputs) addPresetButtons(nodeType);
  },
});
