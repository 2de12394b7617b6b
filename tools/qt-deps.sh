#!/bin/sh
# Qt's xcb platform plugin (the X11 window) needs system libraries that a fresh Debian/Ubuntu desktop may lack
# (libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, ...). Find the ones missing with ldd, install them with apt when
# that needs no password prompt (root, or sudo -n), otherwise print the exact one-line command and fail.
#   tools/qt-deps.sh [VENV]      (make run calls it)
VENV=${1:-.venv}
QT=$("$VENV/bin/python" -c 'import PySide6, os; print(os.path.join(os.path.dirname(PySide6.__file__), "Qt"))') || exit 1
missing=$(ldd "$QT/plugins/platforms/libqxcb.so" "$QT"/lib/libQt6XcbQpa.so* 2>/dev/null \
          | awk '/not found/ {print $1}' | sort -u)
[ -z "$missing" ] && exit 0
packages=""
for lib in $missing; do
    case $lib in
        libxcb-cursor.so.0) p=libxcb-cursor0 ;;        libxcb-icccm.so.4) p=libxcb-icccm4 ;;
        libxcb-keysyms.so.1) p=libxcb-keysyms1 ;;      libxcb-image.so.0) p=libxcb-image0 ;;
        libxcb-render-util.so.0) p=libxcb-render-util0 ;; libxcb-xkb.so.1) p=libxcb-xkb1 ;;
        libxkbcommon-x11.so.0) p=libxkbcommon-x11-0 ;; libxkbcommon.so.0) p=libxkbcommon0 ;;
        libxcb-randr.so.0) p=libxcb-randr0 ;;          libxcb-shape.so.0) p=libxcb-shape0 ;;
        libxcb-xinerama.so.0) p=libxcb-xinerama0 ;;    libxcb-xfixes.so.0) p=libxcb-xfixes0 ;;
        libxcb-sync.so.1) p=libxcb-sync1 ;;            libxcb-shm.so.0) p=libxcb-shm0 ;;
        libxcb-render.so.0) p=libxcb-render0 ;;        libxcb-xinput.so.0) p=libxcb-xinput0 ;;
        libxcb-util.so.1) p=libxcb-util1 ;;
        libX11-xcb.so.1) p=libx11-xcb1 ;;              libxcb.so.1) p=libxcb1 ;;
        libEGL.so.1) p=libegl1 ;;                      libGL.so.1) p=libgl1 ;;
        libOpenGL.so.0) p=libopengl0 ;;                libfontconfig.so.1) p=libfontconfig1 ;;
        libfreetype.so.6) p=libfreetype6 ;;            libdbus-1.so.3) p=libdbus-1-3 ;;
        libSM.so.6) p=libsm6 ;;                        libICE.so.6) p=libice6 ;;
        *) echo "faceid: Qt's X11 plugin needs $lib (no package known for it here)" >&2; continue ;;
    esac
    packages="$packages $p"
done
[ -z "$packages" ] && exit 1
command="apt-get install -y$packages"
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "faceid: installing Qt's X11 libraries:$packages"; $command && exit 0
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        echo "faceid: installing Qt's X11 libraries:$packages"; sudo -n $command && exit 0
    fi
    echo "faceid: the window needs system libraries for Qt's X11 plugin. Install them with:" >&2
    echo "    sudo $command" >&2
else
    echo "faceid: the window needs these system libraries for Qt's X11 plugin:$packages (Debian/Ubuntu names)" >&2
fi
exit 1
