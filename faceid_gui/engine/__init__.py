"""Face engine: image decoding, MTCNN detection, alignment, ONNX embedding, matching, gallery.

Free of Qt and torch: it runs on onnxruntime, numpy and OpenCV alone (tests/test_boundaries.py holds it to that).
"""
import cv2

from .align import align_face, similarity_transform, template
from .detector import LIVE_MIN_FACE, PHOTO_MIN_FACE, PHOTO_SMALLEST_FACE, Face, FaceDetector
from .embedder import Embedder, ModelInfo
from .errors import CameraError, FaceIdError, GalleryError, ImageError, ModelError, NoFaceError
from .gallery import Gallery, Merged, NewFace, Person, Removed
from .gallery_file import NoGalleryError
from .imageio import decode_image, encode_jpeg, load_image
from .matching import (AMBIGUOUS, DIFFERENT, DISTANCE_EPS, NAMED, SAME, UNCERTAIN, UNKNOWN, GalleryIndex,
                       Identification, Match, NameVote, check_threshold, decide, distance, distances,
                       enrolment_problems, explain, identify, likeliest_face,
                       identify_all, is_same, one_in, unenrolled_face, verdict)
from .names import clean_name, name_key, same_name
from .model_file import Band, ModelFile, Rates, model_metadata
from .open_set import (DEFAULT_FPIR, OpenSetRule, check_fpir, gallery_rule, open_set_report, open_set_rule,
                       rule_in_words)
from .pipeline import FaceEngine, FaceResult, ImageResult
from .quality import CaptureGate, image_quality
from .runtime import ProviderStatus, resolve_provider
from .tracker import FaceTracker
from .verdicts import Verdict, judge
from .words import plural

__all__ = [
    "align_face", "similarity_transform", "template", "LIVE_MIN_FACE", "PHOTO_MIN_FACE", "PHOTO_SMALLEST_FACE", "Face", "FaceDetector",
    "Embedder", "ModelInfo", "CameraError", "FaceIdError", "GalleryError", "ImageError", "ModelError", "NoFaceError",
    "Gallery", "Merged", "NewFace", "Person", "Removed", "NoGalleryError", "clean_name", "name_key", "same_name",
    "decode_image", "encode_jpeg", "load_image",
    "DISTANCE_EPS", "GalleryIndex", "Identification", "Match", "check_threshold", "distance", "distances", "identify",
    "is_same", "AMBIGUOUS", "DIFFERENT", "NAMED", "SAME", "UNCERTAIN", "UNKNOWN", "NameVote", "decide", "enrolment_problems", "explain", "likeliest_face",
    "identify_all", "one_in", "unenrolled_face", "verdict", "Verdict", "judge", "Band", "ModelFile", "Rates", "model_metadata", "FaceEngine", "FaceResult", "ImageResult", "CaptureGate",
    "image_quality", "ProviderStatus", "resolve_provider", "FaceTracker",
    "DEFAULT_FPIR", "OpenSetRule", "check_fpir", "gallery_rule", "open_set_report", "open_set_rule", "rule_in_words",
    "plural",
]

# OpenCV splits every resize and colour conversion across a thread per core. On the small images here (pyramid
# levels, 24 px crops) waking the helper threads cost more than it saved: 1.4 of 15 CPU-ms a photo went to the
# kernel for it on 2 cores, for no gain in wall time. Set here, where every user of the engine passes first.
cv2.setNumThreads(1)
