"""GUI entry point: builds the application and the window, nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

from ..cli_output import shown
from ..engine import FaceEngine, FaceIdError
from ..paths import default_gallery_path


def run_gui(args) -> int:
    """args: the parsed command line, its provider already resolved (cli.main)."""
    from .display import prepare_platform

    problem = prepare_platform(bool(args.screenshot))
    if problem:
        print(f"faceid: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication, QMessageBox

    from .main_window import MainWindow
    from .state import APP, ORG, AppState

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    install_excepthook()
    try:
        engine = FaceEngine(args.model, prefer=args.provider)
        state = AppState(engine, Path(args.gallery or default_gallery_path()), provider=args.provider)
        window = MainWindow(state)
    except FaceIdError as exc:
        if args.screenshot:
            print(f"faceid: {exc}", file=sys.stderr)
            return 2
        QMessageBox.critical(None, "faceid", f"faceid cannot start:\n{exc}")
        return 2
    notes = [note for note in (engine.note, state.gallery.privacy_note) if note]
    if notes:
        window.statusBar().showMessage("; ".join(n[:1].upper() + n[1:] for n in notes), 15000)
    for note in notes:
        print(f"faceid: {shown(note)}", file=sys.stderr)
    args.tab = opening_tab(args)
    if args.tab:
        window.show_tab(args.tab)
    if args.screenshot:
        from .screenshot import take_screenshot

        return take_screenshot(window, args)
    window.show()
    open_named_files(window, args)
    quit_on_sigint(window)
    return app.exec()


def opening_tab(args) -> str | None:
    """--tab, else the tab of the files named (--compare, --video), else None: the tab the user last had open."""
    if args.tab:
        return args.tab
    if args.compare:
        return "compare"
    if args.video is not None:
        return "live"
    return "compare" if args.screenshot else None


def open_named_files(window, args) -> None:
    """`faceid --compare A B` and `faceid --video FILE` open what they name (the photos are analysed, the video plays)."""
    if args.compare:
        for side in (0, 1):
            window.compare.load(side, str(args.compare[side]))
    if args.video is not None:
        window.live.start(int(args.video) if str(args.video).isdigit() else str(args.video))


def install_excepthook() -> None:
    """The GUI's one boundary: an exception escaping a slot becomes a dialog naming the log, never a crash."""
    from PySide6.QtWidgets import QMessageBox

    from .state import error_text

    def hook(kind, exc, tb):
        if issubclass(kind, KeyboardInterrupt):
            return sys.__excepthook__(kind, exc, tb)
        message = error_text(exc.with_traceback(tb))
        print(f"faceid: {message}", file=sys.stderr)
        QMessageBox.warning(None, "faceid", message)

    sys.excepthook = hook


def quit_on_sigint(window) -> None:
    """Ctrl+C in the terminal closes the window as the Quit menu would (settings saved, workers stopped)."""
    import signal

    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: window.close())
    # Python runs signal handlers only between bytecodes; Qt's event loop is C++, so wake the interpreter.
    window._sigint_timer = QTimer(window)
    window._sigint_timer.timeout.connect(lambda: None)
    window._sigint_timer.start(200)
