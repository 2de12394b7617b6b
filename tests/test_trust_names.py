"""Issue 19, part 2: names are data from strangers: one spelling per person, nothing invisible, printed safely."""
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from faceid_gui.cli_output import shown
from faceid_gui.engine import Gallery, GalleryError, NewFace, clean_name, same_name

from . import hostile
from .conftest import sample

EMB = np.ones(4, np.float32) / 2


def faceid(*args):
    return subprocess.run([sys.executable, "-m", "faceid_gui", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("what", sorted(hostile.REFUSED_NAMES))
def test_names_hiding_characters_or_forging_lines_are_refused_in_one_line(what):
    with pytest.raises(GalleryError) as refused:
        clean_name(hostile.REFUSED_NAMES[what])
    message = str(refused.value)
    assert "\n" not in message and "\x1b" not in message and "\u202e" not in message
    assert "U+" in message or "at most 100" in message or "needs a name" in message


@pytest.mark.parametrize("a,b", hostile.SAME_PERSON)
def test_spellings_of_one_name_are_one_person(tmp_path, a, b):
    assert same_name(a, b)
    with Gallery(tmp_path / "g.sqlite3", "m") as gallery:
        gallery.enroll(a, [NewFace(EMB, "m")])
        gallery.enroll(b, [NewFace(EMB, "m")])
        assert [(p.name, p.faces) for p in gallery.people()] == [(clean_name(a), 2)]
        assert len(gallery.faces(b)) == 2
        if clean_name(a) == clean_name(b):
            with pytest.raises(GalleryError, match="nothing to rename"):
                gallery.rename(a, b)  # "José" (NFC) to "José" (NFD) is no new name
        else:
            gallery.rename(a, b)  # a change of case only: the same person, now spelt as asked
            assert [p.name for p in gallery.people()] == [clean_name(b)]
        gallery.enroll("Other", [NewFace(EMB, "m")])
        with pytest.raises(GalleryError, match="already called"):
            gallery.rename("Other", b)
        gallery.forget_person(b)
        assert [p.name for p in gallery.people()] == ["Other"]


def test_names_stored_before_the_rules_can_still_be_found_and_forgotten(tmp_path):
    path = tmp_path / "g.sqlite3"
    Gallery(path, "m").close()
    with sqlite3.connect(path) as db:  # two people an older faceid let in: NOCASE folds ASCII only
        db.executemany("INSERT INTO people(name, created) VALUES (?, 0)", [("\u00c9lodie",), ("\u00e9lodie",),
                                                                             ("Eve\x1b[2J",)])
    with Gallery(path, "m") as gallery:
        assert gallery.forget_person("\u00e9lodie").name == "\u00e9lodie"  # the exact spelling wins
        assert gallery.forget_person("eve\x1b[2j").name == "Eve\x1b[2J"
        assert [p.name for p in gallery.people()] == ["\u00c9lodie"]


def test_shown_keeps_anything_from_a_user_on_one_line_without_control_codes():
    for text in ("Eve\nAlice   9 faces", "Obama\x1b[31m", "\u202eamabO", "a\u2028b", "tab\there",
                 b"caf\xe9.jpg".decode("utf-8", "surrogateescape")):
        safe = shown(text)
        assert safe.isprintable() and "\n" not in safe and "\x1b" not in safe, safe
    assert shown("Jos\u00e9 Lima") == "Jos\u00e9 Lima"
    assert shown(b"caf\xe9.jpg".decode("utf-8", "surrogateescape")) == "caf\\xe9.jpg"


def test_cli_prints_names_and_paths_on_one_line_each(tmp_path):
    path = tmp_path / "g.sqlite3"
    Gallery(path, "m").close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO people(name, created) VALUES (?, 0)", ("Eve\nAlice                    9 faces",))
    people = faceid("--gallery", path, "people")
    assert people.returncode == 0 and people.stdout.count("\n") == 1 and "\\n" in people.stdout
    refused = faceid("--gallery", path, "enroll", "Obama\u200b", sample("astronaut.jpg"))
    assert refused.returncode == 2 and "U+200B ZERO WIDTH SPACE" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "\u200b" not in refused.stderr
    odd = tmp_path / "two\nlines\x1b[31m.jpg"
    odd.write_bytes(b"not an image")
    result = faceid("compare", odd, sample("astronaut.jpg"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
