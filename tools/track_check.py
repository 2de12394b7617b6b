"""Tracking vs full detection on a video of known people: are the same names and boxes assigned?

    python tools/track_check.py --people ../shared/data/face-recognition-examples/examples/knn_examples/train \
        --video /tmp/people.mp4 [--make]

--people holds one folder of photos per person (enrolled in memory). With --make, the video is first written from
the first photo of each person, the face moving across a 640x480 frame (kept out of the repository).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from faceid_gui.bench import moving_face_frames, run_live
from faceid_gui.engine import FaceEngine, FaceTracker, GalleryIndex, load_image
from faceid_gui.engine.mtcnn_ops import box_iou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=Path, required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--make", action="store_true")
    parser.add_argument("--frames-per-person", type=int, default=150)
    parser.add_argument("--redetect-every", type=int, default=10)
    args = parser.parse_args()
    engine = FaceEngine(prefer="cpu")
    people = sorted(p for p in args.people.iterdir() if p.is_dir())
    embeddings, ids, names, firsts = [], [], {}, []
    for pid, folder in enumerate(people):
        names[pid] = folder.name
        for k, photo in enumerate(sorted(folder.iterdir())):
            rgb = load_image(photo)
            faces = engine.analyze(rgb)
            if not faces:
                continue
            embeddings.append(faces[0].embedding)
            ids.append(pid)
            if k == 0 or len(firsts) == pid:
                firsts.append((rgb, faces[0].face.box))
    index = GalleryIndex(np.stack(embeddings), np.asarray(ids), names)
    if args.make:
        writer = cv2.VideoWriter(str(args.video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
        for rgb, box in firsts:
            for frame in moving_face_frames(rgb, box, args.frames_per_person, face_px=120):
                writer.write(frame)
        writer.release()

    def frames():
        capture = cv2.VideoCapture(str(args.video))
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield bgr
        capture.release()

    tracker = FaceTracker(engine.detector, redetect_every=args.redetect_every)
    cpu_t, _, names_t, boxes_t = run_live(engine, frames(), index, tracker)
    cpu_f, _, names_f, boxes_f = run_live(engine, frames(), index, None)
    same = np.mean([a == b for a, b in zip(names_t, names_f)])
    ious = [box_iou(a[0], b[0]) for a, b in zip(boxes_t, boxes_f) if a and b]
    truth = [names[i] for i in range(len(people)) for _ in range(args.frames_per_person)]
    right_t = np.mean([bool(n) and n[0] == g for n, g in zip(names_t, truth)])
    right_f = np.mean([bool(n) and n[0] == g for n, g in zip(names_f, truth)])
    print(f"{len(names_t)} frames, {len(people)} people; full detections with tracking: {tracker.full_detections}")
    print(f"same names as full detection: {100 * same:.1f} % of frames")
    print(f"right name: tracking {100 * right_t:.1f} %, full detection {100 * right_f:.1f} %")
    print(f"box IoU tracking vs full: median {np.median(ious):.3f}, 5th percentile {np.percentile(ious, 5):.3f}")
    print(f"CPU ms/frame (video decoding not counted): tracking {1000 * np.mean(cpu_t):.2f}, full {1000 * np.mean(cpu_f):.2f}")


if __name__ == "__main__":
    main()
