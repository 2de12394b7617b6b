"""GUI entry point (full window arrives with the app issue)."""
from __future__ import annotations


def run_gui(args) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([])
    label = QLabel("faceid")
    label.resize(480, 320)
    if args.screenshot:
        label.grab().save(str(args.screenshot))
        return 0
    label.show()
    return app.exec()
