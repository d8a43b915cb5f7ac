// LRDM frontend extension: the layout editor inside LRDM_Layout (web/js/layout_editor/).
import { app } from "../../../scripts/app.js";
import { registerLayoutEditor } from "./layout_editor/editor.js";

app.registerExtension({
  name: "LRDM.core",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name === "LRDM_Layout") registerLayoutEditor(nodeType);
  },
});
