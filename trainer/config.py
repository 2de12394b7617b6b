"""What a training run depends on, recorded in its checkpoints and config.json, with the help the command line shows."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .augment import AugmentConfig
from .errors import TrainerError
from .model import ModelConfig, preset


@dataclass
class TrainConfig:
    """Everything a run depends on, recorded in its checkpoints: the network, the augmentation, the training."""

    out: str = "runs/latest"
    preset: str = "densenet121"
    input_size: int = 64
    embedding_size: int = 32
    blocks: str = ""  # layers per dense block, e.g. "4,8,16,16"; "" = the preset's
    head: str = "pool"
    model: ModelConfig | None = None  # the network; None = `preset` with the four options above
    augmentation: AugmentConfig | None = field(default_factory=AugmentConfig)  # None: no augmentation
    epochs: int = 30
    batch_size: int = 64  # pairs per step ("pairs" mode)
    pair_mode: str = "pairs"  # "pairs": anchor/positive/negative as in the method; "batch": every pair of a P×K batch
    p: int = 16
    k: int = 4
    margin: float = 1.0
    spread_weight: float = 0.0  # weight of the spread-out term on different people's embeddings (trainer/loss.py)
    lookalike_batches: float = 0.0  # share of P×K batches made of look-alike people (trainer/sampling.py)
    lookalike_space: str = "teacher"  # whose view of a person's face picks the look-alikes: teacher or student
    lr_min: float = 1e-4
    lr_max: float = 2e-3
    beta1_min: float = 0.85  # β1 is lowest while the learning rate peaks
    beta1_max: float = 0.95
    beta2: float = 0.99
    cycle_epochs: float = 4.0  # one full LR up-and-down cycle
    weight_decay: float = 0.0
    seed: int = 0
    threshold_far: float | None = None  # calibrate for this FAR instead of best accuracy
    distill_weight: float = 0.0  # weight of the teacher's distance-distillation term (needs `trainer teach`)
    neighbour_weight: float = 0.0  # weight of the teachers' neighbourhood term (trainer/loss.py)
    neighbour_temperature: float = 0.1  # its softmax temperature, in units of the batch's mean distance
    teachers: str = "sface"  # cached teachers whose (concatenated) embeddings are the distillation targets
    embed_weight: float = 0.0  # weight of the per-face target (trainer/face_target.py)
    face_target: str = "linear"  # linear: the teachers' whole embedding through a linear head; code: see OPTION_HELP
    unlabelled_cache: str = ""  # prepared unlabelled faces (`trainer prepare` + `teach` on a flat folder)
    unlabelled_per_batch: int = 64  # unlabelled faces added to each batch for the per-face target
    view_share: float = 0.0  # share of training faces shown as a stored teacher view (trainer/views.py)
    init_from: str = ""  # start from this checkpoint's weights (fine-tuning); optimiser and schedule start afresh
    device: str = "auto"
    amp: bool = True
    checkpoint_minutes: float = 10.0  # a mid-epoch checkpoint this often, for --resume (0: at epoch ends only)
    resume: bool = False

    def __post_init__(self):
        if self.model is None:
            try:
                blocks = tuple(int(n) for n in self.blocks.split(",")) if self.blocks else None
            except ValueError:
                raise TrainerError(f"--blocks takes layer counts separated by commas, not {self.blocks!r}") from None
            self.model = preset(self.preset, input_size=self.input_size, embedding_size=self.embedding_size,
                                block_config=blocks, head=self.head)
        elif isinstance(self.model, dict):
            self.model = ModelConfig(**self.model)
        if isinstance(self.augmentation, dict):
            self.augmentation = AugmentConfig(**self.augmentation)
        self.input_size, self.embedding_size = self.model.input_size, self.model.embedding_size
        if self.pair_mode not in ("pairs", "batch"):
            raise TrainerError(f"unknown pair mode {self.pair_mode!r}: pairs or batch")
        if not 0 <= self.lookalike_batches <= 1 or (self.lookalike_batches and self.pair_mode != "batch"):
            raise TrainerError("--lookalike-batches is a share from 0 to 1 of --pair-mode batch's batches")
        if self.face_target not in ("linear", "code"):
            raise TrainerError(f"unknown per-face target {self.face_target!r}: linear or code")
        if self.lookalike_space not in ("teacher", "student"):
            raise TrainerError(f"unknown look-alike space {self.lookalike_space!r}: teacher or student")
        if self.spread_weight and self.pair_mode != "batch":
            raise TrainerError("--spread-weight works on --pair-mode batch's batches")
        if self.checkpoint_minutes < 0:
            raise TrainerError("--checkpoint-minutes must be 0 or more")
        if self.neighbour_temperature <= 0:
            raise TrainerError("--neighbour-temperature must be above 0")
        if not 0 <= self.view_share <= 1 or (self.view_share and (self.pair_mode != "batch" or not self.augmentation)):
            raise TrainerError("--view-share is a share from 0 to 1 of --pair-mode batch's augmented faces")

    def needs_teachers(self) -> bool:
        """Whether the run reads the teachers' cached embeddings: their distances, per-face targets or look-alikes."""
        return (self.distill_weight > 0 or self.neighbour_weight > 0 or self.embed_weight > 0
                or (self.lookalike_batches > 0 and self.lookalike_space == "teacher"))

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        if values.get("augment", True) is False:  # checkpoints before the augmentation was recorded
            known["augmentation"] = None
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)


# What each option does, shown by `trainer train --help` with its default.
OPTION_HELP = {
    "out": "folder for checkpoints (last.pt, best.pt), log.csv and config.json",
    "preset": "DenseNet preset: densenet121 (k=32, blocks 6-12-24-16) or a smaller one (see trainer/model.py)",
    "input_size": "square input in pixels; crops are shrunk from the cached 112 px ones",
    "embedding_size": "embedding dimensions",
    "blocks": "layers per dense block, e.g. 4,8,16,16 (default: the preset's); with --init-from a network with "
              "fewer layers, it grows into this one computing the same embedding",
    "head": "pool: average the last feature map; flatten: a weight per position of it (fixed input size)",
    "epochs": "epochs to train (with --resume: the total, counting those done)",
    "batch_size": "pairs per step in pairs mode",
    "pair_mode": "pairs: one anchor pair at a time; batch: every pair inside a P x K batch",
    "p": "people per batch in batch mode",
    "k": "photos per person in batch mode",
    "margin": "contrastive margin for different-person pairs",
    "spread_weight": "weight of the spread-out term in batch mode: different people's embeddings as spread over the "
                     "sphere as uniform points (mean cosine 0); 0 turns it off",
    "lookalike_batches": "share of batch-mode batches made of one person and P-1 of their look-alikes (nearest by "
                         "--lookalike-space's mean face); 0 = every batch of random people",
    "lookalike_space": "teacher: nearest by the teachers' mean face (fixed; needs `trainer teach`); student: by the "
                       "student's own, re-measured each epoch on two photos a person (its current confusions)",
    "lr_min": "learning rate at the bottom of each cycle",
    "lr_max": "learning rate at the top of each cycle",
    "beta1_min": "Adam beta1 while the learning rate peaks",
    "beta1_max": "Adam beta1 at the bottom of each cycle",
    "beta2": "Adam beta2",
    "cycle_epochs": "epochs of one full learning-rate up-and-down cycle",
    "weight_decay": "Adam weight decay",
    "seed": "seed of every random draw (batches, augmentation, initial weights)",
    "threshold_far": "calibrate the threshold for this false-accept rate on validation people (default: best accuracy)",
    "distill_weight": "weight of the batch-distance (RKD) distillation term; 0 turns it off",
    "neighbour_weight": "weight of the neighbourhood distillation term (each face's nearest faces in the batch, as "
                        "the teachers rank them; weighs close pairs most); 0 turns it off",
    "neighbour_temperature": "softmax temperature of the neighbourhood term, in units of the batch's mean distance",
    "teachers": "cached teachers forming the target: sface, dlib or sface+dlib (`trainer teach`)",
    "embed_weight": "weight of the per-face target (a linear head reads the teachers' embedding of each face from "
                    "the student's, cosine loss); 0 turns it off",
    "face_target": "linear: a linear head reads the teachers' whole embedding from the student's; code: a rotation "
                   "reads the teachers' best code of the embedding's size (principal axes of the training faces), so "
                   "the student's distances themselves follow the code's",
    "unlabelled_cache": "trainer cache of a prepared and taught folder of unlabelled faces, for the per-face target",
    "unlabelled_per_batch": "unlabelled faces added to each batch",
    "view_share": "share of training faces shown as one of their stored augmented views, with SFace's embedding of "
                  "that view as its target (`trainer teach --views K`)",
    "init_from": "start from this checkpoint's weights (any input size with the pooled head; a smaller network "
                 "grows, see --blocks); optimiser and schedule start afresh",
    "checkpoint_minutes": "also save the run this often inside an epoch (mid-epoch.pt, for --resume); 0 = at epoch "
                          "ends only",
    "device": "auto (CUDA when available), cpu or cuda",
    "amp": "mixed precision on CUDA",
}
