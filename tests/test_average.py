import pytest
import torch

from trainer.average import average_checkpoints, averaged_state
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.cli import main
from trainer.errors import TrainerError
from trainer.export import export_checkpoint
from trainer.model import DenseNetEmbedding, ModelConfig
from trainer.train import train

from .test_trainer import TINY, _data, _tiny_cfg, _toy_set


def _two_cycles(tmp_path):
    """Two cycle-end checkpoints of one network: a run, then another cycle from it."""
    x, y = _toy_set()
    quiet = dict(log=lambda *_: None)
    train(_tiny_cfg(tmp_path / "a", epochs=2), _data(x, y), **quiet)
    first = tmp_path / "a" / "run" / "best.pt"
    train(_tiny_cfg(tmp_path / "b", epochs=2, init_from=str(first), seed=1), _data(x, y), **quiet)
    return x, y, [first, tmp_path / "b" / "run" / "best.pt"]


def test_the_average_holds_the_mean_weights_new_batchnorm_statistics_and_exports(tmp_path):
    x, y, paths = _two_cycles(tmp_path)
    encoder, state = average_checkpoints(paths, x)
    weights = [load_checkpoint(p)["model"] for p in paths]
    conv = "features.conv0.weight"
    assert torch.allclose(encoder.state_dict()[conv], (weights[0][conv] + weights[1][conv]) / 2)
    mean = "features.norm0.running_mean"  # measured on the faces, not the mean of the two runs' statistics
    assert not torch.allclose(encoder.state_dict()[mean], (weights[0][mean] + weights[1][mean]) / 2)
    saved = averaged_state(encoder, state, paths, {"threshold": 0.5, "roc_auc": 0.9})
    assert "optimizer" not in saved and saved["averaged_from"] == ["run/best.pt", "run/best.pt"]
    save_checkpoint(tmp_path / "avg.pt", saved)
    export_checkpoint(tmp_path / "avg.pt", tmp_path / "avg.onnx", (x, y))  # measures validation afresh
    assert (tmp_path / "avg.onnx").is_file()


def test_averaging_other_networks_or_one_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    x, _, paths = _two_cycles(tmp_path)
    with pytest.raises(TrainerError, match="two checkpoints"):
        average_checkpoints(paths[:1], x)
    other = tmp_path / "other.pt"
    state = load_checkpoint(paths[0])
    wider = ModelConfig(**dict(TINY, growth_rate=8))
    save_checkpoint(other, dict(state, model=DenseNetEmbedding(wider).state_dict(), model_config=wider.to_dict()))
    with pytest.raises(TrainerError, match="different network"):
        average_checkpoints([other, paths[1]], x)
    capsys.readouterr()
    assert main(["average", str(paths[0]), str(tmp_path / "none.pt"), "--output", str(tmp_path / "o.pt"),
                 "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trainer: checkpoint not found") and err.count("\n") == 1


def test_a_run_of_several_cycles_keeps_each_cycle_end_to_average(tmp_path):
    x, y = _toy_set()
    train(_tiny_cfg(tmp_path, epochs=4, cycle_epochs=2), _data(x, y), log=lambda *_: None)
    run = tmp_path / "run"
    assert sorted(p.name for p in run.glob("cycle-end-*.pt")) == ["cycle-end-2.pt", "cycle-end-4.pt"]
    end = load_checkpoint(run / "cycle-end-4.pt")
    assert "optimizer" not in end and torch.equal(end["model"]["features.conv0.weight"],
                                                  load_checkpoint(run / "last.pt")["model"]["features.conv0.weight"])
    encoder, _ = average_checkpoints(sorted(run.glob("cycle-end-*.pt")), x)
    assert encoder.config.to_dict() == end["model_config"]
    train(_tiny_cfg(tmp_path / "one", epochs=2, cycle_epochs=2), _data(x, y), log=lambda *_: None)
    assert not list((tmp_path / "one" / "run").glob("cycle-end-*.pt"))  # one cycle: best.pt and last.pt say it
