"""Embedded data sets and loaders for the user's own files."""

from codings.datasets._embedded import load_demo_3d, load_digits, load_faces
from codings.datasets._files import load_array, load_file, load_parquet
from codings.datasets._images import load_image_folder
from codings.datasets.scaling import SCALES, Scaling, output_range
from codings.datasets.windows import sliding_windows as sliding_windows

__all__ = ["SCALES", "Scaling", "load_array", "load_demo_3d", "load_digits", "load_faces",
           "load_file", "load_image_folder", "load_parquet", "output_range", "sliding_windows"]
