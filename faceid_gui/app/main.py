"""GUI entry point: builds the application and the window, nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

from ..engine import FaceEngine, FaceIdError
from ..paths import default_gallery_path


def run_gui(args) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from .main_window import APP, ORG, AppState, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    try:
        engine = FaceEngine(args.model, prefer=args.provider)
        state = AppState(engine, Path(args.gallery or default_gallery_path()))
    except FaceIdError as exc:
        if args.screenshot:
            print(f"faceid: {exc}", file=sys.stderr)
            return 2
        QMessageBox.critical(None, "faceid", f"faceid cannot start:\n{exc}")
        return 2
    window = MainWindow(state)
    window.show_tab(args.tab)
    if args.screenshot:
        window.resize(1100, 760)
        window.show()
        waits = []
        if args.compare:
            waits = [window.compare.load(0, str(args.compare[0])), window.compare.load(1, str(args.compare[1]))]
        if args.video is not None and args.tab in ("live",):
            window.live.start(int(args.video) if str(args.video).isdigit() else args.video)
            waits.append(None)
        loop = QEventLoop()
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        deadline.start(30000)

        def check():
            busy = bool(state.tasks) or (window.live.worker is not None and not window.live.last_names
                                         and window.live.worker.isRunning())
            if not busy:
                loop.quit()

        poll = QTimer()
        poll.timeout.connect(check)
        poll.start(100)
        loop.exec()
        app.processEvents()
        window.grab().save(str(args.screenshot))
        window.shutdown()
        window.close()
        return 0
    window.show()
    code = app.exec()
    return code
