"""mmzoo's data layer: the LiDAR sensor model, the synthetic scene generator, and the real data's folder layouts."""
from mmzoo.data.frames import Frames
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, XYZA_FORMULAS, ZENITH, beam_directions, depth_to_xyza, hit_mask

__all__ = [
    "Frames",
    "AZIMUTH",
    "ZENITH",
    "MAX_RANGE",
    "XYZA_FORMULAS",
    "beam_directions",
    "depth_to_xyza",
    "hit_mask",
]
