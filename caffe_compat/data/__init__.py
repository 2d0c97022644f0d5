"""Data sources of the data layers."""
from .hdf5 import HDF5Source, read_source_list

__all__ = ["HDF5Source", "read_source_list"]
