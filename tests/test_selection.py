"""`trainer select`: candidates compared on every validation pair and on random halves of the people."""
import numpy as np
import pytest

from trainer.checkpoint import save_checkpoint
from trainer.cli import main
from trainer.config import TrainConfig
from trainer.errors import TrainerError
from trainer.export import export, metadata_for
from trainer.model import DenseNetEmbedding, ModelConfig
from trainer.selection import FARS, candidate_embedder, compare_candidates, random_halves, row_in_words

from .test_trainer import TINY, _toy_set


def _people(noise: float, seed: int = 0, people: int = 12, photos: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of `people` people, each photo its person's centre plus `noise`."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 8))
    labels = np.repeat(np.arange(people), photos)
    points = centres[labels] + rng.normal(0, noise, (len(labels), 8))
    return points / np.linalg.norm(points, axis=1, keepdims=True), labels


def test_the_sharper_candidate_is_higher_on_every_half():
    blurred, labels = _people(noise=1.0)
    sharp, _ = _people(noise=0.3)
    embeddings = {"blurred": blurred, "sharp": sharp}
    rows = list(compare_candidates(lambda name: embeddings[name], ["blurred", "sharp"], labels, halves=20))
    assert "against_first" not in rows[0] and set(rows[0]["tar"]) == set(FARS)
    assert rows[1]["auc"] > rows[0]["auc"]
    versus = rows[1]["against_first"]
    assert versus["halves"] == 20 and versus["auc"]["share_higher"] == 1.0 and versus["auc"]["mean"] > 0
    assert "higher on 100%" in row_in_words(rows[1])
    # the same candidate against itself: no difference on any half
    rows = list(compare_candidates(lambda name: embeddings[name], ["sharp", "sharp"], labels, halves=5))
    same = rows[1]["against_first"]
    assert same["auc"]["mean"] == 0 and same["auc"]["share_higher"] == 0


def test_halves_are_half_the_people_the_same_for_every_call():
    labels = np.repeat(np.arange(10), 3)
    first, again = random_halves(labels, 4), random_halves(labels, 4)
    assert all((a == b).all() for a, b in zip(first, again))
    assert all(len(np.unique(labels[mask])) == 5 for mask in first)
    with pytest.raises(TrainerError, match="4 people"):
        random_halves(np.repeat(np.arange(3), 3), 2)


def test_a_checkpoint_and_its_model_file_embed_the_same(tmp_path):
    crops = _toy_set()[0][:6]
    encoder = DenseNetEmbedding(ModelConfig(**TINY)).eval()
    cfg = TrainConfig(model=ModelConfig(**TINY), augmentation=None)
    checkpoint, model = tmp_path / "c.pt", tmp_path / "m.onnx"
    save_checkpoint(checkpoint, {"model": encoder.state_dict(), "model_config": encoder.config.to_dict(),
                                 "train_config": cfg.to_dict()})
    export(encoder, model, metadata_for(encoder, {"threshold": 0.5, "roc_auc": 0.5}, trained_on="toy"), crops)
    embed = candidate_embedder(lambda size: crops, mirror_average=False)
    assert np.allclose(embed(checkpoint), embed(model), atol=1e-4)
    save_checkpoint(tmp_path / "weights.pt", {"weights": encoder.state_dict()})
    with pytest.raises(TrainerError, match="not a trainer checkpoint"):
        embed(tmp_path / "weights.pt")
    mirrored = candidate_embedder(lambda size: crops, mirror_average=True)(checkpoint)
    assert mirrored.shape == (6, 32) and not np.allclose(mirrored, embed(checkpoint), atol=1e-4)


def test_select_refuses_in_one_line(tmp_path, capsys):
    assert main(["select", str(tmp_path / "gone.pt"), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"trainer: no such candidate: {tmp_path / 'gone.pt'}"
    (tmp_path / "a.pt").write_bytes(b"")
    assert main(["select", str(tmp_path / "a.pt"), "--data", str(tmp_path), "--halves", "-1"]) == 2
    assert "--halves" in capsys.readouterr().err
