"""Scorers of bench/eval_real.py: CLIP score, an open-vocabulary detector (IoU / AP50) and the toy detector.

A scorer has a `name` and `score(images, lines) -> (summary, per_image)`: images are RGB arrays [H, W, 3] in
[0, 1], lines the layout lines they were sampled from ({"prompt", "objects": [{"phrase", "box"}]}, boxes
normalised xyxy); summary maps metric names to floats, per_image holds one dict per image.

The CLIP and detector scorers need `transformers` and Pillow (the `eval` extra of pyproject.toml), imported
only when such a scorer is built; the pack never imports them. A missing package or a metric model that
cannot be loaded raises ScorerUnavailable with what to install or download.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

EVAL_EXTRA = ["transformers>=4.50.3", "pillow", "scipy"]  # = pyproject.toml's `eval` extra (a test checks)
INSTALL_HINT = "pip install " + " ".join(f"'{r}'" if ">" in r else r for r in EVAL_EXTRA) + "   (the `eval` extra)"
DEFAULT_CLIP = "openai/clip-vit-large-patch14"
DEFAULT_DETECTOR = "google/owlv2-base-patch16-ensemble"
# Score threshold of a kept detection, by detector family (OWL: the HF examples' 0.1; Grounding DINO: HF's 0.25).
DEFAULT_THRESHOLD = {"owlv2": 0.1, "owlvit": 0.1, "grounding-dino": 0.25, "mm-grounding-dino": 0.25}
ARTICLES = {"a", "an", "the"}
PAD_GREY = 0.5  # fill of the square canvas a box crop is pasted on for the local CLIP score


class ScorerUnavailable(RuntimeError):
    """A scorer cannot run here: a package is missing or its model cannot be loaded. The text says the fix."""


def require(module: str, purpose: str) -> Any:
    """Import `module` for `purpose`, or raise ScorerUnavailable naming the package and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        package = {"PIL": "pillow"}.get(module.split(".")[0], module.split(".")[0])
        raise ScorerUnavailable(
            f"{purpose} needs the Python package '{package}', which cannot be imported here ({e}).\n"
            f"Install the evaluation extra: {INSTALL_HINT}"
        ) from None


def load_pretrained(cls: Any, name: str, what: str, option: str, device: str | None = None) -> Any:
    """cls.from_pretrained(name) (a local folder or a Hugging Face id), or ScorerUnavailable saying how to get it."""
    try:
        obj = cls.from_pretrained(name)
    except Exception as e:  # OSError, connection and parse errors alike: all mean "not loadable"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if name.startswith(("/", ".", "~")) or Path(name).exists():
            raise ScorerUnavailable(
                f"could not load the {what} from the folder '{name}': {first}\n"
                f"{option} takes a Hugging Face id (e.g. {DEFAULT_CLIP}, {DEFAULT_DETECTOR}) or a folder written by "
                "save_pretrained (config.json, the weights and the processor's files)."
            ) from None
        raise ScorerUnavailable(
            f"could not load the {what} '{name}': {first}\n"
            f"Download it once where the Hugging Face hub is reachable: `hf download {name}` (huggingface_hub; "
            f"older: `huggingface-cli download {name}`), then run with HF_HUB_OFFLINE=1 to use the cache; "
            f"or save the model to a folder and pass {option} /path/to/folder."
        ) from None
    return obj.to(device).eval() if device is not None else obj


def to_pil(image: np.ndarray) -> Any:
    """RGB [H, W, 3] in [0, 1] -> PIL image (uint8)."""
    pil = require("PIL.Image", "scoring images")
    return pil.fromarray((np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8))


def box_crop(image: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    """The pixels of a normalised xyxy box (at least 2x2), centred on a grey square so no part is cropped away."""
    h, w, _ = image.shape
    x0, x1 = sorted((int(np.floor(box[0] * w)), int(np.ceil(box[2] * w))))
    y0, y1 = sorted((int(np.floor(box[1] * h)), int(np.ceil(box[3] * h))))
    x0, y0 = min(max(x0, 0), w - 2), min(max(y0, 0), h - 2)
    x1, y1 = min(max(x1, x0 + 2), w), min(max(y1, y0 + 2), h)
    crop = image[y0:y1, x0:x1]  # [h', w', 3]
    side = max(crop.shape[:2])
    canvas = np.full((side, side, 3), PAD_GREY, dtype=image.dtype)
    oy, ox = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    canvas[oy : oy + crop.shape[0], ox : ox + crop.shape[1]] = crop
    return canvas


class ClipScorer:
    """CLIP score: 100 * max(cos(image, text), 0) of CLIP's projected embeddings (torchmetrics' CLIPScore).

    clip_score: the whole image against the global prompt (the paper's CLIP score; T2I-Sim is the same cosine
    without the factor 100); clip_local: each object's box crop against its phrase, averaged over objects.
    """

    name = "clip"

    def __init__(self, model: str = DEFAULT_CLIP, device: str = "cpu", batch_size: int = 16) -> None:
        transformers = require("transformers", "the CLIP scorer")
        require("PIL.Image", "the CLIP scorer")
        self.model_name, self.device, self.batch_size = model, device, batch_size
        self.model = load_pretrained(transformers.CLIPModel, model, "CLIP model", "--clip-model", device)
        self.processor = load_pretrained(transformers.AutoProcessor, model, "CLIP processor", "--clip-model")
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)

    @torch.no_grad()
    def cosines(self, images: list[np.ndarray], texts: list[str]) -> np.ndarray:
        """Cosine of each image with its paired text, [N]."""
        out = []
        for k in range(0, len(images), self.batch_size):
            inputs = self.processor(
                text=texts[k : k + self.batch_size],
                images=[to_pil(im) for im in images[k : k + self.batch_size]],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
            ).to(self.device)
            res = self.model(**inputs)
            img = torch.nn.functional.normalize(res.image_embeds.float(), dim=-1)  # [b, D]
            txt = torch.nn.functional.normalize(res.text_embeds.float(), dim=-1)  # [b, D]
            out.append((img * txt).sum(-1).cpu())
        return torch.cat(out).numpy() if out else np.zeros(0)

    def score(self, images: list[np.ndarray], lines: list[dict]) -> tuple[dict[str, float], list[dict]]:
        glob = np.maximum(100.0 * self.cosines(images, [line["prompt"] for line in lines]), 0.0)
        crops, phrases, owner = [], [], []
        for i, (img, line) in enumerate(zip(images, lines, strict=True)):
            for o in line["objects"]:
                crops.append(box_crop(img, tuple(o["box"])))
                phrases.append(o["phrase"])
                owner.append(i)
        local = np.maximum(100.0 * self.cosines(crops, phrases), 0.0)
        per_image = [
            {
                "clip_score": float(glob[i]),
                "clip_local": [float(v) for v, j in zip(local, owner, strict=True) if j == i],
            }
            for i in range(len(images))
        ]
        summary = {"clip_score": float(glob.mean()), "clip_local": float(local.mean()) if len(local) else 0.0}
        return summary, per_image


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> list[int]:
    """Greedy non-maximum suppression: indices kept, best score first. boxes [N, 4] xyxy, scores [N]."""
    from toyworld.detect import box_iou

    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(box_iou(tuple(boxes[i]), tuple(boxes[j])) < iou_thr for j in keep):
            keep.append(int(i))
    return keep


class DetectorScorer:
    """Open-vocabulary detector (OWLv2 / OWL-ViT / Grounding DINO) queried with each layout's object phrases.

    Every predicted box gets the phrase with the highest score (OWL: sigmoid of its per-query logit; Grounding
    DINO: mean sigmoid over the phrase's tokens, articles left out); boxes under the threshold are dropped and
    the rest suppressed per phrase (NMS). The detections are then scored like the toy benchmark
    (toyworld.metrics, the phrase playing the colour class): per requested object the IoU of its greedily
    matched same-phrase detection (0 when none: mIoU), presence, and AP50 over the whole set (a detection is a
    true positive when its phrase matches and IoU >= 0.5; classes = phrases; COCO 101-point AP).
    """

    name = "detector"

    def __init__(
        self, model: str = DEFAULT_DETECTOR, device: str = "cpu", threshold: float | None = None, nms_iou: float = 0.5
    ) -> None:
        transformers = require("transformers", "the detector scorer")
        require("PIL.Image", "the detector scorer")
        self.model_name, self.device = model, device
        self.model = load_pretrained(
            transformers.AutoModelForZeroShotObjectDetection, model, "detector", "--detector", device
        )
        self.processor = load_pretrained(transformers.AutoProcessor, model, "detector processor", "--detector")
        self.kind = self.model.config.model_type
        if self.kind not in DEFAULT_THRESHOLD:
            raise ScorerUnavailable(
                f"detector '{model}' is a '{self.kind}' model; supported: {', '.join(sorted(DEFAULT_THRESHOLD))} "
                f"(e.g. {DEFAULT_DETECTOR} or IDEA-Research/grounding-dino-base)"
            )
        self.threshold = DEFAULT_THRESHOLD[self.kind] if threshold is None else threshold
        self.nms_iou = nms_iou

    @torch.no_grad()
    def _owl(self, image: Any, phrases: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes [N, 4] normalised cxcywh of the image and phrase probabilities [N, P]."""
        inputs = self.processor(text=[phrases], images=image, return_tensors="pt").to(self.device)
        out = self.model(**inputs)
        boxes = out.pred_boxes[0].float().cpu()  # [N, 4] cxcywh
        if self.kind == "owlv2":  # OWLv2 pads the image to a square (bottom / right): boxes are relative to it
            w, h = image.size
            side = max(w, h)
            boxes = boxes * torch.tensor([side / w, side / h, side / w, side / h])
        return boxes, torch.sigmoid(out.logits[0].float()).cpu()  # [N, 4], [N, P]

    def phrase_tokens(self, text: str, phrases: list[str], offsets: list[tuple[int, int]], ids: list[int]):
        """For each phrase of `text` (". "-joined), the token positions that spell it, articles left out."""
        spans, start = [], 0
        for p in phrases:
            s = text.index(p, start)
            spans.append((s, s + len(p)))
            start = s + len(p)
        out = []
        for s, e in spans:
            toks = [t for t, (a, b) in enumerate(offsets) if b > a and s <= a and b <= e]
            words = [t for t in toks if self.processor.tokenizer.decode([ids[t]]).strip().lower() not in ARTICLES]
            out.append(words or toks)
        return out

    @torch.no_grad()
    def _grounding_dino(self, image: Any, phrases: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes [N, 4] normalised cxcywh and phrase probabilities [N, P] from one "a. b. c." query."""
        phrases = [p.lower().strip().rstrip(".") for p in phrases]
        text = ". ".join(phrases) + "."
        enc = self.processor.tokenizer([text], return_offsets_mapping=True, return_tensors="pt")
        offsets = [tuple(int(v) for v in pair) for pair in enc.pop("offset_mapping")[0]]
        pixels = self.processor.image_processor(images=image, return_tensors="pt")
        out = self.model(**enc.to(self.device), **pixels.to(self.device))
        probs = torch.sigmoid(out.logits[0].float()).cpu()  # [N, max_text_len]
        tokens = self.phrase_tokens(text, phrases, offsets, enc["input_ids"][0].tolist())
        cols = [probs[:, [t for t in toks if t < probs.shape[1]]].mean(-1) for toks in tokens]
        return out.pred_boxes[0].float().cpu(), torch.stack(cols, -1)  # [N, 4], [N, P]

    def detect(self, image: np.ndarray, phrases: list[str]) -> list:
        """Detections (toyworld.detect.Detection, colour = phrase, shape = '') of the phrases in the image."""
        from toyworld.detect import Detection

        run = self._owl if self.kind.startswith("owl") else self._grounding_dino
        boxes, probs = run(to_pil(image), phrases)  # [N, 4] cxcywh, [N, P]
        cx, cy, bw, bh = boxes.unbind(-1)
        xyxy = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1).clamp(0, 1).numpy()  # [N, 4]
        score, label = probs.max(-1)
        score, label = score.numpy(), label.numpy()
        sized = (xyxy[:, 2] - xyxy[:, 0] > 1e-4) & (xyxy[:, 3] - xyxy[:, 1] > 1e-4)  # no empty boxes
        out = []
        for p, phrase in enumerate(phrases):
            idx = np.flatnonzero((label == p) & (score >= self.threshold) & sized)
            for k in nms(xyxy[idx], score[idx], self.nms_iou):
                out.append(Detection(phrase, "", tuple(float(v) for v in xyxy[idx[k]]), float(score[idx[k]])))
        return out

    def score(self, images: list[np.ndarray], lines: list[dict]) -> tuple[dict[str, float], list[dict]]:
        from toyworld.metrics import Target, ap50, score_image

        targets, dets, per_image = [], [], []
        for img, line in zip(images, lines, strict=True):
            phrases = list(dict.fromkeys(o["phrase"] for o in line["objects"]))
            ts = [Target(o["phrase"], "", tuple(o["box"])) for o in line["objects"]]
            ds = self.detect(img, phrases)
            s = score_image(ts, ds)
            targets.append(ts)
            dets.append(ds)
            per_image.append(
                {
                    "ious": [float(v) for v in s.ious],
                    "present": [bool(v) for v in s.present],
                    "detections": [[d.colour, round(d.score, 4), [round(v, 4) for v in d.box]] for d in ds],
                }
            )
        ious = [v for r in per_image for v in r["ious"]]
        summary = {
            "mIoU": float(np.mean(ious)) if ious else 0.0,
            "AP50": ap50(targets, dets),
            "presence": float(np.mean([v for r in per_image for v in r["present"]])) if ious else 0.0,
            "extra_per_image": float(
                np.mean([len(d) - sum(r["present"]) for d, r in zip(dets, per_image, strict=True)])
            ),
            "n_objects": len(ious),
        }
        return summary, per_image


class ToyScorer:
    """The toy world's own detector and metrics (bench/quality.py's evaluate): only for --toy images."""

    name = "toy"

    def score(self, images: list[np.ndarray], lines: list[dict]) -> tuple[dict[str, float], list[dict]]:
        import quality
        from toyworld.detect import detect
        from toyworld.metrics import score_image

        per_image = []
        for img, line in zip(images, lines, strict=True):
            s = score_image(quality.targets_of(line), detect(img))
            per_image.append({"ious": [float(v) for v in s.ious], "present": [bool(v) for v in s.present]})
        return quality.evaluate(images, lines), per_image


def build(names: list[str], clip_model: str, detector: str, device: str, threshold: float | None, nms_iou: float):
    """The scorers named (toy, clip, detector), models loaded: fails early, before any image is sampled."""
    if "toy" in names and "detector" in names:
        raise ValueError("--scorers: 'toy' and 'detector' both give mIoU / AP50 / presence; choose one")
    made = []
    for n in names:
        if n == "toy":
            made.append(ToyScorer())
        elif n == "clip":
            made.append(ClipScorer(clip_model, device))
        elif n == "detector":
            made.append(DetectorScorer(detector, device, threshold, nms_iou))
        else:
            raise ValueError(f"unknown scorer '{n}' (toy, clip, detector)")
    return made
