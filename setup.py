"""Only one thing pyproject.toml cannot say: copy the top-level models/ and firmware_configs/
folders into the wheel (as menwei/_data/), so a non-editable install (the gate image) still
finds its model-pack manifests and device profiles. See menwei/resources.py."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_FOLDERS = ("models", "firmware_configs")  # = menwei.resources.DATA_FOLDERS


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads them from the source tree
            return
        for name in DATA_FOLDERS:
            target = Path(self.build_lib) / "menwei" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(HERE / name, target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__", ".*"))


setup(cmdclass={"build_py": BuildPyWithData})
