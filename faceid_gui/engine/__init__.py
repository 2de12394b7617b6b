"""Face engine: image decoding, MTCNN detection, alignment, ONNX embedding, matching, gallery.

Free of Qt and torch: it runs on onnxruntime, numpy and OpenCV alone.
"""
from .align import align_face, similarity_transform, template
from .detector import Face, FaceDetector
from .embedder import Embedder, ModelInfo
from .errors import CameraError, FaceIdError, GalleryError, ImageError, ModelError, NoFaceError
from .gallery import Gallery, NewFace, Person
from .imageio import decode_image, encode_jpeg, load_image
from .matching import DISTANCE_EPS, GalleryIndex, Match, check_threshold, distance, distances, is_same
from .pipeline import FaceEngine, FaceResult, ImageResult
from .runtime import ProviderStatus
from .tracker import FaceTracker

__all__ = [
    "align_face", "similarity_transform", "template", "Face", "FaceDetector", "Embedder", "ModelInfo",
    "CameraError", "FaceIdError", "GalleryError", "ImageError", "ModelError", "NoFaceError",
    "Gallery", "NewFace", "Person", "decode_image", "encode_jpeg", "load_image",
    "DISTANCE_EPS", "GalleryIndex", "Match", "check_threshold", "distance", "distances", "is_same",
    "FaceEngine", "FaceResult", "ImageResult", "ProviderStatus", "FaceTracker",
]
