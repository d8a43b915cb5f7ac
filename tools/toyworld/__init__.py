"""The toy world: synthetic coloured-shape scenes and a detector for them (pure numpy)."""

from .detect import Detection
from .scenes import COLOURS, SHAPES, Scene, SceneObject

__all__ = ["COLOURS", "SHAPES", "Detection", "Scene", "SceneObject"]
