"""Noise parameter generators (NPG): pattern-fixed maps and learned networks (UCAN §4)."""

from ucan_core.npg.pattern import pattern_scale_map

__all__ = ["pattern_scale_map"]
