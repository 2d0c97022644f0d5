"""Writes the code cells of a Jupyter notebook, verbatim, to a cells file (programs.py reads it).

    python extract_cells.py NOTEBOOK.ipynb OUT.cells.txt

Each code cell becomes a line ``# %% cell N`` (N: the cell's index in the notebook) followed by
its source exactly as stored; markdown cells and outputs are left out.
"""
import json
import sys

MARKER = "# %% cell "


def extract(notebook_path, out_path):
    with open(notebook_path, encoding="utf-8") as f:
        notebook = json.load(f)
    parts = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if MARKER in source:
            raise ValueError(f"{notebook_path}: cell {index} holds the marker {MARKER!r}")
        parts.append(f"{MARKER}{index}\n{source}\n")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("".join(parts))


if __name__ == "__main__":
    extract(sys.argv[1], sys.argv[2])
