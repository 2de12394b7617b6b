import numpy as np
import pytest

from trainer.cli import main
from trainer.errors import TrainerError
from trainer.evaluate import teacher_code


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
