"""Where the project's data folders (models/, firmware_configs/) are found.

In a checkout or an editable install they sit at the top of the source tree. A wheel (as in the
gate image) has no source tree: setup.py's build step copies them into ``menwei/_data/``, which
is looked at first because only a wheel install has it, while a top-level ``models`` folder in
site-packages could belong to any other package.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "_data"
SOURCE_TREE = Path(__file__).resolve().parents[1]
DATA_FOLDERS = ("models", "firmware_configs")


def data_dir(name: str) -> Path:
    """The folder ``name`` (one of DATA_FOLDERS) of this installation."""
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r} (known: {', '.join(DATA_FOLDERS)})")
    packaged = PACKAGED / name
    return packaged if packaged.is_dir() else SOURCE_TREE / name
