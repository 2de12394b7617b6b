#!/bin/sh
# Retake docs/*.png from a real X window (see tools/screenshots.py); starts a private Xvfb when there is no display.
# Needs Xvfb and ImageMagick (apt install xvfb imagemagick).
set -e
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if [ -z "$DISPLAY" ]; then
    Xvfb :97 -screen 0 1280x900x24 >/dev/null 2>&1 &
    XVFB=$!
    trap 'kill $XVFB' EXIT
    export DISPLAY=:97
    sleep 1
fi
"$PY" tools/screenshots.py "$@"
