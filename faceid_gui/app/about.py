"""Help → About: what runs on the user's photos: faceid's version, the model in use (what it was trained on, how it
did on people it never saw, its licence) and the licences of the models and libraries that come with faceid."""
from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QMessageBox

from .. import __version__
from ..paths import DEFAULT_MODEL_NAME, assets_dir

# The shipped embedding model's licence is bound by its training data (README, Licences).
SHIPPED_MODEL_LICENCE = "trained on CelebA photos, whose terms allow non-commercial research use only"
BUNDLED = (  # (what, licence): the parts of faceid a user runs, beside the embedding model
    ("faceid", "MIT (LICENSE)"),
    ("MTCNN face detector weights (from the PyPI package mtcnn 1.0.0)", "MIT (assets/LICENSE.mtcnn)"),
    ("Qt {qt} through PySide6 {pyside}", "LGPL v3"),
    ("ONNX Runtime {ort}", "MIT"),
    ("OpenCV {cv}", "Apache 2.0"),
    ("NumPy {np}", "BSD 3-clause"),
    ("Sample photos (assets/samples)", "public domain / CC0"),
)


def versions() -> dict[str, str]:
    import cv2
    import numpy
    import onnxruntime
    import PySide6
    from PySide6.QtCore import qVersion

    return {"qt": qVersion(), "pyside": PySide6.__version__, "ort": onnxruntime.__version__, "cv": cv2.__version__,
            "np": numpy.__version__}


def model_licence(info) -> str:
    licence = info.extra.get("license") or info.extra.get("licence")
    if isinstance(licence, str) and licence.strip():
        return licence.strip()
    if info.path.resolve() == (assets_dir() / DEFAULT_MODEL_NAME).resolve():
        return SHIPPED_MODEL_LICENCE
    return "not recorded in the model file"


def model_figures(info) -> str:
    """The model's validation figures, as its file records them."""
    validation = info.metrics.get("validation") if isinstance(info.metrics, dict) else None
    if not info.trained:
        return "untrained placeholder: its distances mean nothing"
    if not isinstance(validation, dict):
        return "no validation figures recorded"
    parts = [f"ROC AUC {info.validation_auc:.3f}" if info.validation_auc is not None else ""]
    if isinstance(validation.get("kfold_accuracy"), (int, float)):
        parts.append(f"10-fold accuracy {100 * validation['kfold_accuracy']:.1f} %")
    rates = info.rates_at(info.threshold)
    if rates is not None:
        parts.append(f"at its threshold {info.threshold:.3f}: {100 * rates.far:.1f} % of stranger pairs accepted, "
                     f"{100 * rates.frr:.1f} % of same-person pairs rejected")
    people = validation.get("pairs")
    where = f" ({people:,} pairs of people it never trained on)" if isinstance(people, int) else ""
    return "; ".join(p for p in parts if p) + where


def about_html(info, provider) -> str:
    found = versions()
    rows = "".join(f"<li>{escape(what.format(**found))}: {escape(licence)}</li>" for what, licence in BUNDLED)
    return (f"<h3>faceid {escape(__version__)}</h3>"
            "<p>Private face verification: every photo, face and embedding stays on this computer.</p>"
            f"<p><b>Model in use:</b> {escape(info.path.name)} ({escape(info.architecture)}, "
            f"{info.embedding_size}-D embedding)<br>"
            f"<b>Trained on:</b> {escape(info.training_data)}<br>"
            f"<b>Validation:</b> {escape(model_figures(info))}<br>"
            f"<b>Licence:</b> {escape(model_licence(info))}<br>"
            f"<b>Runs on:</b> {escape(provider.name)} ({escape(provider.reason)})</p>"
            f"<p><b>Bundled models and libraries</b></p><ul>{rows}</ul>")


def show_about(parent, state) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About faceid")
    box.setText(about_html(state.engine.info, state.engine.provider))
    box.exec()
