"""mmzoo's data layer: the LiDAR sensor model, the synthetic scene generator, and the real data's folder layouts.

>>> from mmzoo.data import generate, to_tensors
>>> frames = generate("shapes", 4, seed=0)
>>> data = to_tensors(frames, lidar="xyza", formula="assignment")
>>> tuple(data.rgb.shape), tuple(data.lidar.shape), tuple(data.target.shape)
((4, 4, 64, 64), (4, 4, 64, 64), (4, 1))
"""
from mmzoo.data.corruptions import (
    CorruptionSpec,
    corrupt,
    corrupt_frames,
    get_corruption,
    list_corruptions,
    register_combination,
    register_corruption,
)
from mmzoo.data.fiftyone_io import read_fiftyone_dataset
from mmzoo.data.frames import Frames
from mmzoo.data.own import read_labels, read_own_folder, split_frames
from mmzoo.data.resize import resize_image, resize_range
from mmzoo.data.samples import frames_from_arrays, prepare_image, prepare_range
from mmzoo.data.layouts import LAYOUTS, detect_layout, read_assessment_folder, read_course_folder, read_folder
from mmzoo.data.preview import write_preview
from mmzoo.data.render import RenderOutput, Scene, SceneSettings, render
from mmzoo.data.sensor import AZIMUTH, MAX_RANGE, XYZA_FORMULAS, ZENITH, beam_directions, depth_to_xyza, hit_mask
from mmzoo.data.sets import DATASETS, DatasetSpec, fingerprint, generate, get_dataset, list_datasets, sample_scene
from mmzoo.data.splits import class_split, course_split
from mmzoo.data.tensors import FusionTensors, to_tensors
from mmzoo.data.writers import write_assessment_folder, write_course_folder, write_folder

__all__ = [
    "Frames",
    "AZIMUTH",
    "ZENITH",
    "MAX_RANGE",
    "XYZA_FORMULAS",
    "beam_directions",
    "depth_to_xyza",
    "hit_mask",
    "SceneSettings",
    "Scene",
    "RenderOutput",
    "render",
    "DATASETS",
    "DatasetSpec",
    "generate",
    "list_datasets",
    "get_dataset",
    "sample_scene",
    "fingerprint",
    "LAYOUTS",
    "detect_layout",
    "read_folder",
    "write_folder",
    "read_course_folder",
    "read_assessment_folder",
    "write_course_folder",
    "write_assessment_folder",
    "course_split",
    "class_split",
    "FusionTensors",
    "to_tensors",
    "read_fiftyone_dataset",
    "read_own_folder",
    "read_labels",
    "split_frames",
    "frames_from_arrays",
    "prepare_image",
    "prepare_range",
    "resize_image",
    "resize_range",
    "write_preview",
    "CorruptionSpec",
    "register_corruption",
    "register_combination",
    "get_corruption",
    "list_corruptions",
    "corrupt",
    "corrupt_frames",
]
