"""The `make bench` table: faceid beside each installed peer, one row per figure of faceid_gui/bench.py."""
from __future__ import annotations

from .bench_big import rows as big_rows

PEERS = ("dlib", "opencv")


def _cell(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else f"{value:.2f}" if isinstance(value, float) else str(value)


def table(fig: dict) -> str:
    peers = [p for p in PEERS if f"{p}_photo_cpu_ms" in fig]
    get = lambda key: [fig.get(f"{p}_{key}") for p in peers]  # noqa: E731
    rows = [
        ("live 640x480, one moving face: CPU ms/frame (tracking)", fig["live_cpu_ms_per_frame"],
         get("live_cpu_ms_per_frame")),
        ("  same, full detection every frame", fig["live_full_cpu_ms_per_frame"], []),
        ("  frames/s (wall, tracking | full)", f"{fig['live_fps']:.0f} | {fig['live_full_fps']:.0f}", []),
        ("  same names as full detection, % of frames", 100 * fig["live_same_names"], []),
        (f"photo: decode+detect+align+embed, CPU ms ({fig['photos']} photos)", fig["photo_cpu_ms"],
         get("photo_cpu_ms")),
        ("  photos with a face found", fig["photo_found"], get("photo_found")),
        ("  same, every face down to 20 px, CPU ms", fig["photo_20px_cpu_ms"], get("photo_cpu_ms")),
        ("  photos with a face found", fig["photo_20px_found"], get("photo_found")),
        ("detect (512x512 photo), CPU ms", fig["detect_ms"], []),
        ("detect only, median over the photos, CPU ms (MTCNN | YuNet)", fig.get("detect_photos_cpu_ms"),
         [None, fig.get("opencv_detect_cpu_ms")]),
        ("embed one face, CPU ms", fig["embed_ms"], get("embed_ms")),
        ("embed 16 faces in one call, CPU ms a face", fig["embed_batch16_ms_per_face"], []),
        ("1:N identify vs 100,000, CPU ms | wall ms",
         f"{fig['identify_100k_ms']:.2f} | {fig['identify_100k_wall_ms']:.2f}", []),
    ]
    rows += [(label, ours, []) for label, ours, _ in big_rows(fig)]
    if "accuracy_faceid_auc" in fig:
        rows.append((f"accuracy: {fig['accuracy_photos_all_found']} photos of {fig['accuracy_people']} people, "
                     f"{fig['accuracy_faceid_pairs']} pairs", "", []))
        for key, label in (("auc", "  ROC AUC"), ("tar_at_far_0.001", "  TAR at FAR 1e-3"),
                           ("tar_at_far_0.01", "  TAR at FAR 1e-2")):
            rows.append((label, fig[f"accuracy_faceid_{key}"], [fig.get(f"accuracy_{p}_{key}") for p in peers]))
    if "compare_startup_s" in fig:
        rows += [("start-up: faceid compare A B, wall s", fig["compare_startup_s"], []),
                 ("start-up: GUI first window, wall s", fig["gui_first_window_s"], [])]
    lines = [f"faceid {fig['model']} on {fig['provider']}, {fig['cpu_cores']} cores, load "
             f"{fig['load_average_1min']:.1f}; peers: {', '.join(fig['peers'])}",
             f"{'':66s} {'faceid':>14s}" + "".join(f" {p:>10s}" for p in peers)]
    for label, ours, theirs in rows:
        theirs = theirs + [None] * (len(peers) - len(theirs))
        lines.append(f"{label:66s} {_cell(ours):>14s}" + "".join(f" {_cell(v):>10s}" for v in theirs))
    for p in peers:
        lines.append(f"photo CPU ratio {p}/faceid: {fig[f'{p}_photo_cpu_ratio']:.1f}x (the app's photo path), "
                     f"{fig[f'{p}_photo_20px_cpu_ratio']:.1f}x with every face down to 20 px")
    return "\n".join(lines)
