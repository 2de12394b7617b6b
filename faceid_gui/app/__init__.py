"""PySide6 desktop app (the only part of faceid that imports Qt)."""
