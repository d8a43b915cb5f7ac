"""Layout input nodes through their V3 schemas and execute(): LRDM_Layout (editor), FromMasks, Combine, BBoxes."""

from __future__ import annotations

import json

import pytest
import torch
from comfy_api.latest import io

EDITOR_JSON = json.dumps(
    {
        "version": 1,
        "objects": [
            {"phrase": "a red fox", "box": [0.08, 0.3, 0.48, 0.83], "z": 1, "color": "#e61a4a"},
            {"phrase": "a hot air balloon", "box": [0.43, 0.18, 0.74, 0.54], "z": 2, "locked": True},
        ],
    }
)


def _layout_node(pack):
    return pack.nodes.layout_editor.LayoutEditor


def _lerr(pack):
    return pack.lrdm_core.errors.LayoutError


def test_layout_node_schema_keeps_state_in_a_real_string_widget(pack):
    schema = _layout_node(pack).define_schema()
    assert schema.node_id == "LRDM_Layout" and schema.category == "lrdm/layout"
    first = schema.inputs[0]
    assert first.id == "layout_json" and isinstance(first, io.String.Input) and first.multiline
    assert json.loads(first.default) == {"version": 1, "objects": []}
    assert [i.id for i in schema.inputs] == ["layout_json", "width", "height", "background", "image"]
    assert schema.inputs[-1].optional and all(i.tooltip for i in schema.inputs)
    assert not schema.is_output_node  # a plain node: API prompts and stock graphs run it as any other


def test_layout_node_parses_the_editor_json(pack):
    out = _layout_node(pack).execute(EDITOR_JSON, 768, 512, "  a sunny meadow ")
    lay = out.args[0]
    assert lay.phrases() == ["a red fox", "a hot air balloon"]
    assert (lay.width, lay.height, lay.background) == (768, 512, "a sunny meadow")
    assert lay.objects[1].locked and lay.objects[1].z == 2
    shown = out.ui["lrdm_layout"][0]
    assert shown["objects"][0]["box"] == [0.08, 0.3, 0.48, 0.83] and shown["background"] == "a sunny meadow"
    assert "lrdm_background" not in out.ui


def test_background_input_falls_back_to_the_json(pack):
    text = json.dumps({"version": 1, "background": "a beach", "objects": [{"phrase": "a dog", "box": [0, 0, 1, 1]}]})
    assert _layout_node(pack).execute(text, 512, 512, "").args[0].background == "a beach"


def test_layout_node_sends_the_image_back_for_the_editor(pack, tmp_path, monkeypatch):
    import folder_paths

    monkeypatch.setattr(folder_paths, "get_temp_directory", lambda: str(tmp_path))
    img = torch.rand(2, 32, 48, 3)  # [B, H, W, C]
    out = _layout_node(pack).execute(EDITOR_JSON, 768, 512, "", img)
    saved = out.ui["lrdm_background"]
    assert len(saved) == 1 and saved[0]["type"] == "temp"
    assert (tmp_path / saved[0]["subfolder"] / saved[0]["filename"]).is_file()


@pytest.mark.parametrize(
    "text, needle",
    [
        ('{"version": 1, "objects": []}', "empty layout"),
        ('{"version": 1, "objects": [{"phrase": "x", "box": [0.1, 0.2', "line 1 column"),
        ('{"version": 1, "objects": [{"phrase": "", "box": [0, 0, 1, 1]}]}', "non-empty phrase"),
        ('{"version": 1, "objects": [{"phrase": "x", "box": [0.2, 0.2, 0.2, 0.9]}]}', "non-zero area"),
        ('{"version": 1, "objects": [{"phrase": "x", "box": [0.2, 0.2, 1.3, 0.9]}]}', "inside the canvas"),
        ('{"version": 1, "objects": [{"phrase": "x", "box": [10, 20, 300, 400]}]}', "look like pixels"),
        ('{"version": 1, "objects": [{"phrase": "x", "box": [0.5, 0.5, 0.2, 0.3]}]}', "not [x, y, w, h]"),
        ('{"version": 7, "objects": []}', "newer LRDM"),
    ],
)
def test_layout_node_validation_says_what_to_fix(pack, text, needle):
    msg = _layout_node(pack).validate_inputs(text)
    assert isinstance(msg, str) and msg.startswith("LRDM Layout: Expected") and needle in msg, msg
    with pytest.raises(_lerr(pack)):
        _layout_node(pack).execute(text, 512, 512)


def test_layout_node_validation_skips_a_linked_json(pack):
    assert _layout_node(pack).validate_inputs(None) is True
    assert _layout_node(pack).validate_inputs(EDITOR_JSON) is True


def _masks(n: int, h: int = 32, w: int = 48) -> torch.Tensor:
    m = torch.zeros(n, h, w)  # [B, H, W]
    for i in range(n):
        m[i, 4 * i : 4 * i + 8, 5 * i : 5 * i + 10] = 1.0
    return m


def test_from_masks_batch_and_singles_in_order(pack):
    node = pack.nodes.layout_ops.LayoutFromMasks
    lay = node.execute("a cat\n\n a dog \na bird", _masks(2), "a garden", mask_2=_masks(3)[2:3]).args[0]
    assert lay.phrases() == ["a cat", "a dog", "a bird"] and lay.background == "a garden"
    assert (lay.width, lay.height) == (48, 32) and all(o.mask is not None and o.box is None for o in lay.objects)
    assert torch.equal(lay.objects[2].mask, _masks(3)[2])
    assert lay.objects[0].region_area() == pytest.approx(80 / (32 * 48))


def test_from_masks_errors(pack):
    node = pack.nodes.layout_ops.LayoutFromMasks
    with pytest.raises(_lerr(pack), match="one phrase per mask"):
        node.execute("a cat", _masks(2))
    with pytest.raises(_lerr(pack), match="Expected every mask of the size of the first one, 48x32, got 40x32"):
        node.execute("a cat\na dog", _masks(1), mask_1=_masks(1, 32, 40))
    with pytest.raises(_lerr(pack), match="empty mask"):
        node.execute("a cat", torch.zeros(1, 8, 8))
    with pytest.raises(_lerr(pack), match="at least one mask"):
        node.execute("a cat")


def test_combine_appends_objects_and_keeps_the_first_background(pack):
    lay_a = _layout_node(pack).execute(EDITOR_JSON, 768, 512, "a meadow").args[0]
    lay_b = pack.nodes.layout_ops.LayoutFromMasks.execute("a cat", _masks(1)).args[0]
    out = pack.nodes.layout_ops.LayoutCombine.execute(lay_a, lay_b).args[0]
    assert out.phrases() == ["a red fox", "a hot air balloon", "a cat"] and out.background == "a meadow"
    assert out.objects[2].mask is not None
    assert pack.nodes.layout_ops.LayoutCombine.execute(lay_a, None, lay_b, None, "snow").args[0].background == "snow"
    many = pack.lrdm_core.layout.layout_from_dict(
        {"objects": [{"phrase": f"o{i}", "box": [0, 0, 0.5, 0.5]} for i in range(10)]}
    )
    with pytest.raises(_lerr(pack), match="at most 16 objects"):
        pack.nodes.layout_ops.LayoutCombine.execute(many, many)


def test_combine_refuses_masks_of_different_sizes(pack):
    node = pack.nodes.layout_ops.LayoutFromMasks
    a, b = node.execute("a", _masks(1)).args[0], node.execute("b", _masks(1, 64, 64)).args[0]
    with pytest.raises(_lerr(pack), match="object mask"):
        pack.nodes.layout_ops.LayoutCombine.execute(a, b)


def test_preview_draws_mask_and_box_layouts(pack):
    lay_a = _layout_node(pack).execute(EDITOR_JSON, 64, 64).args[0]
    lay_b = pack.nodes.layout_ops.LayoutFromMasks.execute("a cat", _masks(1, 64, 64)).args[0]
    lay = pack.nodes.layout_ops.LayoutCombine.execute(lay_a, lay_b).args[0]
    img = pack.nodes.layout_nodes.LayoutPreview.execute(lay, 64, 64).args[0]
    assert img.shape == (1, 64, 64, 3) and torch.isfinite(img).all()


def test_bounding_box_converter_is_not_registered_on_this_host(pack):
    ids = {n.define_schema().node_id for n in pack.nodes.NODE_LIST}
    assert {"LRDM_Layout", "LRDM_LayoutFromMasks", "LRDM_LayoutCombine"} <= ids
    if not hasattr(io, "BoundingBox"):  # ComfyUI 0.3.75: no BOUNDING_BOX(ES) types
        assert pack.nodes.layout_ops.host_box_types() == []
        assert "LRDM_LayoutFromBoundingBoxes" not in ids


CREATE_BBOXES_FRAME = [
    [
        {"x": 64, "y": 128, "width": 256, "height": 512},
        {
            "x": 512,
            "y": 0,
            "width": 512,
            "height": 256,
            "metadata": {"type": "obj", "desc": "a hot air balloon", "palette": []},
        },
    ]
]


def test_bounding_box_converter_with_host_types(pack, monkeypatch):
    # A newer ComfyUI's io types, as far as the converter uses them (their io_type strings).
    monkeypatch.setattr(io, "BoundingBox", io.Custom("BOUNDING_BOX"), raising=False)
    monkeypatch.setattr(io, "BoundingBoxes", io.Custom("BOUNDING_BOXES"), raising=False)
    node = pack.nodes.layout_ops.LayoutFromBoundingBoxes
    schema = node.define_schema()
    assert schema.node_id == "LRDM_LayoutFromBoundingBoxes" and all(i.tooltip for i in schema.inputs)
    assert schema.inputs[0].get_io_type() == "BOUNDING_BOX,BOUNDING_BOXES"
    lay = node.execute(CREATE_BBOXES_FRAME, 1024, 1024, "a red fox\n", "a sky").args[0]
    assert lay.phrases() == ["a red fox", "a hot air balloon"] and lay.background == "a sky"
    assert lay.objects[0].box == pytest.approx((0.0625, 0.125, 0.3125, 0.625))
    assert lay.objects[1].box == pytest.approx((0.5, 0.0, 1.0, 0.25))
    single = node.execute({"x": 0, "y": 0, "width": 512, "height": 512}, 1024, 512, "a cat").args[0]
    assert single.objects[0].box == pytest.approx((0.0, 0.0, 0.5, 1.0))


def test_bounding_box_converter_errors(pack):
    node = pack.nodes.layout_ops.LayoutFromBoundingBoxes
    with pytest.raises(_lerr(pack), match="a phrase for box 1"):
        node.execute(CREATE_BBOXES_FRAME, 1024, 1024, "")
    with pytest.raises(_lerr(pack), match="inside the 512x512 px canvas"):
        node.execute(CREATE_BBOXES_FRAME, 512, 512, "a red fox")
    with pytest.raises(_lerr(pack), match="frame index below 1"):
        node.execute(CREATE_BBOXES_FRAME, 1024, 1024, "a red fox", frame=3)
    with pytest.raises(_lerr(pack), match="non-zero area"):
        node.execute([{"x": 10, "y": 10, "width": 0, "height": 50}], 100, 100, "a cat")
    with pytest.raises(_lerr(pack), match="bounding boxes"):
        node.execute([], 100, 100, "a cat")


def test_too_many_phrase_tokens_for_the_prompt_are_refused(pack, clip):
    ok = pack.lrdm_core.layout.layout_from_dict(
        {"objects": [{"phrase": f"a red apple number {i}", "box": [0, 0, 0.5, 0.5]} for i in range(3)]}
    )
    pack.nodes.host.encode.token_positions(clip, ok, "a red apple number 0")
    long = pack.lrdm_core.layout.layout_from_dict(
        {
            "objects": [
                {"phrase": "a very small shiny red ceramic coffee mug with a golden handle", "box": [0, 0, 0.5, 0.5]}
                for _ in range(8)
            ]
        }
    )
    with pytest.raises(_lerr(pack), match="one CLIP window"):
        pack.nodes.host.encode.token_positions(clip, long, "")


def test_bounding_box_converter_takes_the_hosts_create_bounding_boxes_outputs(pack):
    """The core node's own outputs (newer hosts): pixel boxes without descriptions, descriptions in `elements`."""
    core = pytest.importorskip("comfy_extras.nodes_bounding_boxes", reason="no Create Bounding Boxes (0.3.75)")
    state = [
        {"x": 32, "y": 64, "width": 128, "height": 256, "metadata": {"type": "obj", "desc": "a hot air balloon"}},
        {"x": 256, "y": 0, "width": 256, "height": 128, "metadata": {"type": "obj", "desc": ""}},
    ]
    _, bboxes, elements = core.CreateBoundingBoxes.execute(512, 512, editor_state=state).args
    node = pack.nodes.layout_ops.LayoutFromBoundingBoxes
    lay = node.execute(bboxes, 512, 512, "unused line\na blue cup", elements=elements).args[0]
    assert lay.phrases() == ["a hot air balloon", "a blue cup"]
    assert lay.objects[0].box == pytest.approx((32 / 512, 64 / 512, 160 / 512, 320 / 512))
    assert node.execute(bboxes, 512, 512, "a red kite\na blue cup").args[0].phrases() == ["a red kite", "a blue cup"]
    with pytest.raises(_lerr(pack), match="a phrase for box 2"):
        node.execute(bboxes, 512, 512, "", elements=elements)
