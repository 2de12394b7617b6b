"""faceid trainer: Siamese DenseNet with contrastive loss, evaluation and ONNX export."""
