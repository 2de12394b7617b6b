import numpy as np
import pytest

from trainer.cli import main
from trainer.errors import TrainerError
from trainer.targets import teacher_code


def test_a_teacher_code_keeps_the_widest_axes_at_unit_length():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(400, 3)) * [10.0, 5.0, 0.01]  # two axes that tell faces apart, one that barely varies
    faces = wide @ np.linalg.qr(rng.normal(size=(3, 3)))[0]  # turned: the axes are the data's, not the columns
    train, held_out = faces[:300], faces[300:]
    code = teacher_code(train, held_out, 2)
    assert code.shape == (100, 2) and np.allclose(np.linalg.norm(code, axis=1), 1, atol=1e-5)
    centred = held_out - train.mean(0)
    full = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    # the dropped axis held almost nothing: distances between faces stay as they were
    assert np.allclose(np.linalg.norm(code[:, None] - code[None], axis=2),
                       np.linalg.norm(full[:, None] - full[None], axis=2), atol=1e-2)
    with pytest.raises(TrainerError, match="between 1 and 3"):
        teacher_code(train, held_out, 4)


def test_a_code_size_without_a_teacher_is_refused_in_one_line(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "m.onnx"), "--code-size", "32", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "give --teacher" in err and err.count("\n") == 1


def test_a_rotation_head_finds_the_rotation_and_keeps_distances():
    import torch

    from trainer.face_target import FaceTargetHead

    rng = np.random.default_rng(1)
    embeddings = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(300, 8)).astype(np.float32)), dim=1)
    turn = torch.from_numpy(np.linalg.qr(rng.normal(size=(8, 8)))[0].astype(np.float32))
    head = FaceTargetHead(8, 8, rotation=True)
    assert head.fit(embeddings, embeddings @ turn.T) < 1e-5
    weight = head.linear.weight.detach()
    assert torch.allclose(weight @ weight.T, torch.eye(8), atol=1e-5) and torch.allclose(weight, turn, atol=1e-4)


def test_the_student_trains_toward_the_teachers_code_through_a_rotation(tmp_path):
    import torch

    from tests.test_trainer import _tiny_cfg, _toy_set
    from trainer.targets import principal_code
    from trainer.train import TrainingData, train

    x, y = _toy_set()
    rng = np.random.default_rng(0)
    teacher = (rng.normal(size=(6, 256))[y] + rng.normal(0, 0.1, (len(y), 256))).astype(np.float32)
    cfg = _tiny_cfg(tmp_path, epochs=3, pair_mode="batch", p=4, k=4, embed_weight=1.0, face_target="code")
    targets = principal_code(teacher, cfg.embedding_size)(teacher)
    best = train(cfg, TrainingData(x, y, x, y, face_targets=targets), log=lambda *_: None)
    assert best["roc_auc"] > 0.9
    head = torch.load(tmp_path / "run" / "last.pt", weights_only=False)["face_head"]
    assert "linear.parametrizations.weight.original" in head  # the head stayed a rotation, with no bias
    cfg.epochs, cfg.resume = 4, True
    assert train(cfg, TrainingData(x, y, x, y, face_targets=targets), log=lambda *_: None)["roc_auc"] > 0.9
