"""Queued API prompts that try to hurt the server through the pack's layout inputs (issue 19).

A layout node's validate_inputs runs on the server's event loop, so a slow parse there stalls every client.
Each prompt below must be refused with a 400 and the pack's message, quickly, and the server must go on
answering and running prompts. ComfyUI's own part (aiohttp accepts up to --max-upload-size, 100 MB by
default, and parses the JSON body) is included in the time.
"""

import json
import time
import urllib.request

import pytest
from hostkit import server as srv

pytestmark = pytest.mark.server

REFUSE_SECONDS = 10.0  # 50 MB through HTTP and ComfyUI's own JSON parse included; the pack's part is O(1)
MB = 1_000_000


def _preview_prompt(node: str, text: str) -> dict:
    """A layout node -> LRDM_LayoutPreview -> PreviewImage (no model needed)."""
    inputs = (
        {"json": text}
        if node == "LRDM_LayoutFromJSON"
        else {"layout_json": text, "width": 512, "height": 512, "background": ""}
    )
    return {
        "1": {"class_type": node, "inputs": inputs},
        "2": {"class_type": "LRDM_LayoutPreview", "inputs": {"layout": ["1", 0], "width": 64, "height": 64}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


def _huge_phrase() -> str:
    return '{"version": 1, "objects": [{"phrase": "' + "a" * (50 * MB) + '", "box": [0, 0, 1, 1]}]}'


def _many_objects() -> str:
    return json.dumps({"objects": [{"phrase": "a cat", "box": [0.1, 0.1, 0.5, 0.5]}] * 200_000})


def _answers(server, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(server.url + "/system_stats", timeout=timeout) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("node", ["LRDM_LayoutFromJSON", "LRDM_Layout"])
@pytest.mark.parametrize(
    "make_text, needle",
    [(_huge_phrase, "at most 100000 characters"), (_many_objects, "at most 100000 characters")],
    ids=["50MB-phrase", "200k-objects"],
)
def test_huge_layout_prompt_is_refused_quickly_and_the_server_keeps_answering(comfy_server, node, make_text, needle):
    text = make_text()
    start = time.perf_counter()
    status, body = comfy_server.client.post_prompt(_preview_prompt(node, text))
    took = time.perf_counter() - start
    del text
    assert status == 400, str(body)[:2000]
    errors = body["node_errors"]["1"]["errors"]
    details = " ".join(e.get("details", "") for e in errors)
    assert needle in details and "Expected" in details, details[:2000]
    assert len(json.dumps(body)) < 10_000, "the rejection echoes the input"
    assert took < REFUSE_SECONDS, f"{took:.1f} s to refuse"
    t0 = time.perf_counter()
    assert "system" in _answers(comfy_server)
    assert time.perf_counter() - t0 < 2.0


def test_server_runs_a_layout_after_hostile_prompts(comfy_server):
    good = '{"version": 1, "objects": [{"phrase": "a red apple", "box": [0.1, 0.3, 0.45, 0.8]}]}'
    status, _ = comfy_server.client.post_prompt(_preview_prompt("LRDM_LayoutFromJSON", _huge_phrase()))
    assert status == 400
    entry = comfy_server.client.wait(
        comfy_server.client.submit(_preview_prompt("LRDM_LayoutFromJSON", good)), timeout=120
    )
    assert srv.image_refs(entry), entry
