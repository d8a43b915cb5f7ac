// The method presets of the LRDM nodes' buttons (web/js/lrdm.js): node-input values of lrdm_core.config.PRESETS.
// tests/comfy/test_nodes.py checks this object against the Python presets, key by key.
export const PRESETS = {
  "plus": {"t0": 0.3, "strength": 1.0, "strength_out": 1.0, "top_k": 0, "guidance": "state", "capture_blocks": "paper", "capture_source": "auto", "composition": "shared", "attn_bias": 2.0, "delta_space": "rgb", "self_bias": 0.4, "bias_end": 0.8, "bias_cap": 0.9, "bias_decay": 0.0},
  "paper": {"t0": 0.3, "strength": 1.0, "strength_out": 1.0, "top_k": 0, "guidance": "input", "capture_blocks": "paper", "capture_source": "auto", "composition": "shared", "attn_bias": 0.0, "delta_space": "latent", "self_bias": 0.0, "bias_end": 1.0, "bias_cap": 0.9, "bias_decay": 0.0}
};

export const PRESET_LABELS = {
  plus: "settings: LRDM+ (default, best measured)",
  paper: "settings: the paper's (figure's reading)",
};
