"""Whole nets compared with OpenCV 4 (filled in below)."""
NETS = {}
