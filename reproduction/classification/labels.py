"""Class names and codes of RAVDESS and FER+ (the seed paper's two data sets).

RAVDESS codes emotions 01-08 in its file names (neutral, calm, happy, sad, angry, fearful,
disgust, surprised); this project's class index is the code minus one. FER+'s fer2013new.csv
has ten vote columns: eight emotions, then ``unknown`` and ``NF`` (not a face).
"""
from __future__ import annotations

__all__ = ["RAVDESS_EMOTIONS", "FERPLUS_COLUMNS", "FERPLUS_EMOTIONS", "FERPLUS_TO_RAVDESS"]

RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
                    "surprised")
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                   "contempt", "unknown", "NF")
FERPLUS_EMOTIONS = FERPLUS_COLUMNS[:8]
# A FER+ class read as the RAVDESS class of the same name (FER+ has no calm; RAVDESS no
# contempt): how a FER+-trained per-frame net votes for RAVDESS clips.
FERPLUS_TO_RAVDESS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprised",
                      "sadness": "sad", "anger": "angry", "disgust": "disgust",
                      "fear": "fearful"}
