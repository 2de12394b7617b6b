"""`faceid --screenshot out.png`: render the window offscreen once its photos or first live frame are shown."""
from __future__ import annotations

from PySide6.QtCore import QEventLoop, QTimer

from .main_window import DEFAULT_SIZE, MainWindow

SETTLE_TIMEOUT_MS = 30000  # give up waiting and take the picture as it is


def take_screenshot(window: MainWindow, args) -> int:
    window.resize(*DEFAULT_SIZE)
    window.show()
    loop = QEventLoop()
    pending: set = set()

    def done(what) -> None:  # runs after the tab's own slot for the same signal: the result is drawn
        pending.discard(what)
        if not pending:
            loop.quit()

    if args.compare:
        pending.add("compare")
        window.state.idle.connect(lambda: done("compare"))
        for side in (0, 1):
            window.compare.load(side, str(args.compare[side]))
    if args.video is not None and args.tab == "live":
        pending.add("live")
        window.live.start(int(args.video) if str(args.video).isdigit() else args.video)
        window.live.worker.frame_ready.connect(lambda: done("live"))
        window.live.worker.failed.connect(lambda _: done("live"))
    if pending:
        QTimer.singleShot(SETTLE_TIMEOUT_MS, loop.quit)
        loop.exec()
    window.grab().save(str(args.screenshot))
    window.shutdown()
    window.close()
    return 0
