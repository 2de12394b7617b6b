"""What the Gallery tab can take back until faceid closes: a forget, a removed photo, a rename, a merge."""
from __future__ import annotations

from dataclasses import dataclass

from ..engine import Gallery, Merged, Removed, plural


@dataclass(frozen=True)
class Forgot:
    removed: Removed

    @property
    def text(self) -> str:
        return f"Put back {plural(self.removed.faces, 'photo')} of {self.removed.name}"

    def undo(self, gallery: Gallery) -> str:
        gallery.restore(self.removed)
        return self.removed.name


@dataclass(frozen=True)
class Renamed:
    old: str
    new: str

    @property
    def text(self) -> str:
        return f"Rename {self.new} back to {self.old}"

    def undo(self, gallery: Gallery) -> str:
        gallery.rename(self.new, self.old)
        return self.old


@dataclass(frozen=True)
class MergedInto:
    merged: Merged
    into: str

    @property
    def text(self) -> str:
        return f"Split {self.merged.name} off {self.into} again ({plural(len(self.merged.face_ids), 'photo')})"

    def undo(self, gallery: Gallery) -> str:
        gallery.unmerge(self.merged)
        return self.merged.name
