"""Where faceid finds its assets and keeps the user's data."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "faceid"
DEFAULT_MODEL_NAME = "faceid_embedder.onnx"


def assets_dir() -> Path:
    """Shipped models and licences: next to the package, or inside a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def user_data_dir() -> Path:
    """Per-user writable folder (never inside the bundle or the checkout)."""
    override = os.environ.get("FACEID_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP_NAME


def default_gallery_path() -> Path:
    return Path(os.environ.get("FACEID_GALLERY") or user_data_dir() / "gallery.sqlite3")


def installed_model_path() -> Path:
    """Where `trainer refresh` installs a freshly trained model."""
    return user_data_dir() / "models" / DEFAULT_MODEL_NAME


def shipped_model_path() -> Path:
    return assets_dir() / DEFAULT_MODEL_NAME


def default_model_choice() -> tuple[Path, str]:
    """(path, where it came from): FACEID_MODEL, else a model the trainer installed, else the shipped one."""
    override = os.environ.get("FACEID_MODEL")
    if override:
        return Path(override), "FACEID_MODEL"
    installed = installed_model_path()
    if installed.is_file():
        return installed, f"installed in {installed.parent}"
    return shipped_model_path(), "shipped"


def default_model_path() -> Path:
    return default_model_choice()[0]
