"""Re-embedding enrolled faces after a model change: from the source photo, or from the kept crop when it is gone."""
import shutil

import numpy as np

from faceid_gui.engine import Gallery, NewFace
from faceid_gui.engine.reembed import reembed_stale

from .conftest import sample


def test_stale_faces_are_reembedded_from_their_photo_or_their_kept_crop(tmp_path, engine):
    photo = tmp_path / "eileen.jpg"
    shutil.copy(sample("astronaut.jpg"), photo)
    gone = tmp_path / "gone.jpg"
    shutil.copy(sample("camera.jpg"), gone)
    fresh = {p: engine.analyze_file(p).chosen for p in (photo, gone)}
    old = Gallery(tmp_path / "g.sqlite3", "old-model", 32)
    for name, path in (("Eileen", photo), ("Cam", gone)):
        made = fresh[path].new_face(str(path))
        old.enroll(name, [NewFace(np.ones(32, np.float32), "old-model", made.thumbnail, made.source)])
    old.close()
    gone.unlink()
    with Gallery(tmp_path / "g.sqlite3", engine.info.fingerprint, 32) as gallery:
        assert gallery.stale_count() == 2 and len(gallery.index()) == 0
        steps = []
        summary = reembed_stale(gallery, engine, progress=lambda done, total, name: steps.append((done, total)))
        assert (summary.from_photo, summary.from_crop, summary.failed) == (1, 1, [])
        assert steps == [(1, 2), (2, 2)] and gallery.stale_count() == 0
        index = gallery.index()
        for name, path in (("Eileen", photo), ("Cam", gone)):
            own = index.embeddings[index.person_ids == index.person_id(name)][0]
            assert np.allclose(own, fresh[path].embedding, atol=1e-5)  # the crop is lossless: the same embedding
