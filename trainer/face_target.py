"""Per-face distillation: a linear head maps the student's embedding of a face to the teachers' embedding of the
same face (concatenated, centred on the mean training face: `targets.centred`), and the loss is their cosine
distance.

The head trains with the student and is never exported. It lets the student keep its own basis: what the teachers
know about each face must be linearly readable from the 32-D embedding. It starts at the least-squares map of the
student as it is, so a fine-tuned student is not pulled toward a random head's view in the first steps.

With `--face-target code` the target is the teachers' principal code of the embedding's size and the head a rotation
(starting at the Procrustes fit): the student's distances are then asked to be the code's, where a linear head lets
a direction that tells faces apart carry little distance.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def has_target(face_targets):
    """Which faces have a per-face target (numpy or torch rows): `targets.centred` leaves the others at 0."""
    return abs(face_targets).sum(-1) > 0


class FaceTargetHead(torch.nn.Module):
    """A linear head, or with `rotation` an orthogonal one (for `--face-target code`): a rotation keeps distances,
    so a student whose rotated embedding sits at the teachers' code has the code's distances between faces."""

    def __init__(self, embedding_size: int, target_size: int, rotation: bool = False):
        super().__init__()
        self.rotation = rotation
        self.linear = torch.nn.Linear(embedding_size, target_size, bias=not rotation)
        if rotation:
            torch.nn.utils.parametrizations.orthogonal(self.linear)

    @torch.no_grad()
    def fit(self, embeddings: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-3) -> float:
        """Set the head to the ridge least-squares map from `embeddings` to `targets` (a rotation: the orthogonal
        Procrustes solution); returns the mean cosine distance it leaves (the per-face term's starting value)."""
        if self.rotation:
            u, _, vh = torch.linalg.svd(targets.double().T @ embeddings.double())
            self.linear.weight = (u @ vh).to(self.linear.weight.dtype)
            return float(self(embeddings.float(), targets.float()))
        x = torch.cat([embeddings.double(), torch.ones(len(embeddings), 1, dtype=torch.float64, device=embeddings.device)], 1)
        gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=torch.float64, device=x.device)
        solution = torch.linalg.solve(gram, x.T @ targets.double())
        self.linear.weight.copy_(solution[:-1].T.to(self.linear.weight.dtype))
        self.linear.bias.copy_(solution[-1].to(self.linear.bias.dtype))
        return float(self(embeddings.float(), targets.float()))

    def average_gradients(self) -> None:
        """Under torchrun the head sits outside DistributedDataParallel: average its gradients as DDP does the
        student's, so every process keeps the same head (a process whose batch had no target adds zeros)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        for parameter in self.parameters():
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            dist.all_reduce(parameter.grad)
            parameter.grad /= dist.get_world_size()

    def forward(self, student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean cosine distance between the head's reading of each student embedding and its teachers' target."""
        if len(student) == 0:
            return student.sum() * 0
        return (1 - F.cosine_similarity(self.linear(student), target.to(student.dtype), dim=-1)).mean()
