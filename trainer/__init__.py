"""faceid trainer: Siamese DenseNet with contrastive loss, evaluation and ONNX export."""
import os

# Same reason as in faceid_gui/__init__.py: onnxruntime reads this only when first imported.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
