"""Write a randomly initialised embedding model with the real interface (a placeholder until a trained one ships)."""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from trainer.export import build_metadata, export  # noqa: E402
from trainer.model import DenseNetEmbedding, preset  # noqa: E402

torch.manual_seed(0)
encoder = DenseNetEmbedding(preset("small"))
meta = build_metadata(encoder, threshold=0.5, margin=1.0, trained_on="nothing (random initialisation)", trained=False)
crops = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "assets" / "faceid_embedder.onnx"
print("max |ort - torch| =", export(encoder, out, meta, crops), "->", out)
