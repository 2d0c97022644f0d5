"""Reproduction helpers: the bundled AVEC-like sample data set and the scripts that use it."""
