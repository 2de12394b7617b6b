"""Domain errors: each message is written for the person using faceid, not for a developer."""


class FaceIdError(Exception):
    """Base class: the message is safe to show as-is."""


class ImageError(FaceIdError):
    """The file is missing, not an image, truncated or too large."""


class NoFaceError(FaceIdError):
    """The image decoded but holds no detectable face."""


class ModelError(FaceIdError):
    """A model file is missing, corrupt, or not one faceid can use."""


class GalleryError(FaceIdError):
    """The gallery database cannot do what was asked (unknown person, name taken...)."""


class CameraError(FaceIdError):
    """A camera or video source cannot be opened or stopped delivering frames."""
