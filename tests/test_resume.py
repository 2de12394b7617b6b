"""A run stopped inside an epoch goes on from its last mid-epoch checkpoint as if it had never stopped."""
import pytest
import torch

from trainer.augment import AugmentConfig
from trainer.checkpoint import CheckpointSaver, load_checkpoint, without_run_state
from trainer.errors import TrainerError
from trainer.train import train

from .test_trainer import _data, _tiny_cfg, _toy_set


class _Stopped(Exception):
    """Stands for the process being killed (a session's end) right after a mid-epoch save."""


def _stop_at(monkeypatch, epoch: int, done: int) -> None:
    real = CheckpointSaver.save_position

    def save_then_stop(self, state):
        real(self, state)
        if (state["position"]["epoch"], state["position"]["done"]) == (epoch, done):
            raise _Stopped

    monkeypatch.setattr(CheckpointSaver, "save_position", save_then_stop)


def _run(tmp_path, **kw):
    # augmentation and look-alike batches by the student's view: the resumed pass must replay both draws
    return _tiny_cfg(tmp_path, epochs=2, pair_mode="batch", p=3, k=4, lookalike_batches=0.5,
                     lookalike_space="student", augmentation=AugmentConfig(), **kw)


def test_a_run_stopped_mid_epoch_resumes_where_it_stopped(tmp_path, monkeypatch):
    x, y = _toy_set(n_ids=8)
    quiet = dict(log=lambda *_: None)
    train(_run(tmp_path / "a", checkpoint_minutes=0), _data(x, y), **quiet)
    assert not (tmp_path / "a" / "run" / "mid-epoch.pt").exists()  # 0: at epoch ends only

    _stop_at(monkeypatch, epoch=1, done=2)
    with pytest.raises(_Stopped):
        train(_run(tmp_path / "b", checkpoint_minutes=1e-9), _data(x, y), **quiet)
    mid = load_checkpoint(tmp_path / "b" / "run" / "mid-epoch.pt")
    assert mid["epoch"] == 0 and mid["position"]["done"] == 2 and mid["metrics"] is None
    assert "position" not in without_run_state(mid)  # an export or average never sees it
    monkeypatch.undo()

    said = []
    train(_run(tmp_path / "b", checkpoint_minutes=1e-9, resume=True), _data(x, y), log=said.append)
    assert said[0] == "resumed in epoch 2 after batch 2"
    assert not (tmp_path / "b" / "run" / "mid-epoch.pt").exists()  # the epoch's end supersedes it
    straight = load_checkpoint(tmp_path / "a" / "run" / "last.pt")
    resumed = load_checkpoint(tmp_path / "b" / "run" / "last.pt")
    for key, value in straight["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert [row["loss"] for row in straight["history"]] == pytest.approx([row["loss"] for row in resumed["history"]])


def test_a_new_run_in_the_folder_forgets_an_old_runs_position(tmp_path, monkeypatch):
    import trainer.train as training

    x, y = _toy_set(n_ids=8)
    _stop_at(monkeypatch, epoch=0, done=1)
    with pytest.raises(_Stopped):
        train(_run(tmp_path, checkpoint_minutes=1e-9), _data(x, y), log=lambda *_: None)
    assert (tmp_path / "run" / "mid-epoch.pt").exists()
    # another run (not --resume) in the same folder, killed before it saved anything: a later --resume of it must
    # start it afresh, not go on from the first run's position
    monkeypatch.setattr(training, "train_one_epoch", lambda *_: (_ for _ in ()).throw(_Stopped()))
    with pytest.raises(_Stopped):
        train(_run(tmp_path, seed=5), _data(x, y), log=lambda *_: None)
    assert not (tmp_path / "run" / "mid-epoch.pt").exists()


def test_checkpoint_minutes_below_zero_is_refused(tmp_path):
    with pytest.raises(TrainerError, match="--checkpoint-minutes"):
        _tiny_cfg(tmp_path, checkpoint_minutes=-1)
