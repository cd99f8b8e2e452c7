"""Build-time layout of the wheel (the metadata is in pyproject.toml).

The repository keeps the app's resources in the top-level folder `resources/`; the wheel installs them as
`fghash_gui/resources/`, inside the app's own package, so that no top-level `resources` folder lands in
site-packages (shared ground other distributions may write). The app reads them with importlib.resources
(fghash_gui/resources_files.py), which finds them in a wheel, an editable install and a source checkout.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["core", "core.*", "fghash_gui", "fghash_gui.*"]), "fghash_gui.resources"],
    package_dir={"fghash_gui.resources": "resources"},
    package_data={"fghash_gui.resources": ["*.qss", "*.svg", "*.png", "*.desktop", "studies/*.toml"]},
)
