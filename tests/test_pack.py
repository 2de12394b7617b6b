"""Packed training data (trainer/pack.py): a pack gives back exactly what was packed (or, as JPEG, nearly), trains
the same run, keeps every file under its size, and refuses a damaged, foreign or mismatched pack in one line."""
import json

import numpy as np
import pytest

from trainer.cli import main
from trainer.errors import TrainerError
from trainer.pack import INDEX, read_pack, write_pack
from trainer.train import TrainingData, train

from .test_trainer import _people_photos, _tiny_cfg, _toy_set, _write


def _full_data():
    """Every part a pack holds: crops, labels, teacher distances and known rows, per-face and unlabelled targets."""
    x, y = _toy_set(per_id=6)
    rng = np.random.default_rng(0)
    targets = rng.normal(size=(len(y), 8)).astype(np.float32)
    known = np.arange(len(y)) % 5 != 0
    unlabelled, _ = _toy_set(n_ids=2, per_id=5, seed=3)
    return TrainingData(x, y, x[:12], y[:12], (targets, known), {"data": "toy"}, targets[:, :4].copy(), unlabelled,
                        rng.normal(size=(len(unlabelled), 4)).astype(np.float32))


def _cfg(tmp_path, **kw):
    return _tiny_cfg(tmp_path, teachers="sface", embed_weight=1.0, unlabelled_cache="/data/utk", **kw)


def test_a_lossless_pack_gives_back_every_array_exactly_in_shards_under_their_size(tmp_path):
    data, cfg = _full_data(), _cfg(tmp_path)
    index = write_pack(data, cfg, tmp_path / "pack", shard_mib=0.02)  # about 20 KB: several crop files
    shards = index["crops"]["train_crops"]["shards"]
    assert len(shards) > 1 and sum(s["count"] for s in shards) == len(data.train_crops)
    assert all(s["bytes"] < 0.02 * 2 ** 20 + 4096 for s in shards)  # the limit plus one crop and the file's header
    back = read_pack(tmp_path / "pack", cfg)
    for name in ("train_crops", "train_labels", "val_crops", "val_labels", "face_targets", "unlabelled_crops",
                 "unlabelled_targets"):
        assert np.array_equal(getattr(back, name), getattr(data, name)), name
    assert all(np.array_equal(a, b) for a, b in zip(back.teacher, data.teacher))
    assert back.info == {"data": "toy", "pack": "png"} and back.views is None


def test_a_jpeg_pack_is_smaller_and_close(tmp_path):
    import cv2

    data, cfg = _full_data(), _cfg(tmp_path)
    data.train_crops = np.stack([cv2.GaussianBlur(c, (5, 5), 0) for c in data.train_crops])  # smooth, as faces are
    png = write_pack(data, cfg, tmp_path / "png")
    jpeg = write_pack(data, cfg, tmp_path / "jpeg", jpeg_quality=90)
    size = lambda index: sum(s["bytes"] for s in index["crops"]["train_crops"]["shards"])
    assert size(jpeg) < size(png)
    back = read_pack(tmp_path / "jpeg", cfg)
    assert back.info["pack"] == "jpeg90"
    assert np.abs(back.train_crops.astype(int) - data.train_crops).mean() < 6  # real 112 px faces at quality 90: 1.7


def test_training_from_a_pack_is_the_same_run(tmp_path):
    x, y = _toy_set()
    targets = np.random.default_rng(1).normal(size=(len(y), 8)).astype(np.float32)
    data = TrainingData(x, y, x, y, (targets, np.ones(len(y), bool)))
    runs = []
    for name in ("arrays", "pack"):
        cfg = _tiny_cfg(tmp_path, epochs=1, out=str(tmp_path / name), teachers="sface", distill_weight=1.0)
        if name == "pack":
            write_pack(data, cfg, tmp_path / "p")
            data = read_pack(tmp_path / "p", cfg)
        runs.append(train(cfg, data, log=lambda *_: None))
    assert runs[0]["roc_auc"] == runs[1]["roc_auc"] and runs[0]["threshold"] == runs[1]["threshold"]
    logs = [json.loads((tmp_path / n / "log.json").read_text())[0]["loss"] for n in ("arrays", "pack")]
    assert logs[0] == logs[1]


def test_a_damaged_foreign_or_mismatched_pack_is_refused(tmp_path):
    data, cfg = _full_data(), _cfg(tmp_path)
    folder = tmp_path / "pack"
    index = write_pack(data, cfg, folder)
    with pytest.raises(TrainerError, match="--teachers 'sface'; this run has 'dlib'"):
        read_pack(folder, _tiny_cfg(tmp_path, teachers="dlib", embed_weight=1.0, unlabelled_cache="/data/utk"))
    with pytest.raises(TrainerError, match="--input-size"):
        read_pack(folder, _cfg(tmp_path, input_size=64, model=None, preset="small"))
    for broken in ({"arrays": []}, {"crops": {"train_crops": {"shape": "big"}}}, {"start": 3}):
        (folder / INDEX).write_text(json.dumps(dict(index, **broken)))
        with pytest.raises(TrainerError, match="not a valid pack index"):
            read_pack(folder, cfg)
    shard = folder / index["crops"]["train_crops"]["shards"][0]["file"]
    raw = bytearray(shard.read_bytes())
    raw[-1] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(TrainerError, match="damaged or incomplete"):
        read_pack(folder, cfg)
    index["crops"]["train_crops"]["shards"][0]["file"] = "../../etc/passwd"
    (folder / INDEX).write_text(json.dumps(index))
    with pytest.raises(TrainerError, match="outside its pack"):
        read_pack(folder, cfg)
    (folder / INDEX).unlink()
    with pytest.raises(TrainerError, match="not a finished pack"):
        read_pack(folder, cfg)
    with pytest.raises(TrainerError, match="views"):
        write_pack(TrainingData(data.train_crops, data.train_labels, data.val_crops, data.val_labels, views=object()),
                   cfg, tmp_path / "views")


def test_pack_and_train_from_it_on_the_command_line(tmp_path, capsys):
    import cv2

    people = tmp_path / "people"  # 14 people (70/15/15: two of them validate), each two sizes of one photo
    for n in range(7):
        for person, images in _people_photos().items():
            for k, image in enumerate(images):
                _write(people / f"{person}{n}" / f"{k}.jpg", cv2.resize(image, None, fx=1 - n / 20, fy=1 - n / 20))
    run = ["--preset", "small", "--input-size", "32", "--blocks", "1,1", "--pair-mode", "batch", "--p", "2",
           "--k", "2", "--epochs", "1", "--out", str(tmp_path / "run")]
    cache = ["--data", str(people), "--cache", str(tmp_path / "cache"), "--workers", "1"]
    assert main(["pack", *cache, *run, "--pack", str(tmp_path / "pack"), "--jpeg-quality", "90"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["codec"] == "jpeg90" and summary["train_crops"] >= 2
    assert main(["train", "--pack", str(tmp_path / "pack"), *run]) == 0
    assert (tmp_path / "run" / "best.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["pack"] == "jpeg90"
    capsys.readouterr()
    assert main(["train", *run]) == 2  # neither --data nor --pack
    assert main(["train", "--pack", str(tmp_path / "pack"), *cache, *run]) == 2  # both
    assert main(["train", "--pack", str(tmp_path / "nothing"), *run]) == 2
    assert main(["train", "--pack", str(tmp_path / "pack"), *run, "--input-size", "48"]) == 2
    assert main(["pack", *cache, *run, "--pack", str(people / "eileen0" / "0.jpg")]) == 2  # a file, not a folder
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("trainer: ")]
    assert len(err) == 5 and all(line.startswith("trainer: ") for line in err), err


BARE_PYTHON = """
import sys
for name in ("onnx", "sklearn", "scipy", "PIL", "pillow_heif", "PySide6", "dlib", "matplotlib"):
    sys.modules[name] = None  # what a lent GPU machine's Python lacks: importing it fails, find_spec says None
"""


def test_a_pack_carries_its_start_and_trains_where_only_torch_numpy_and_opencv_are(tmp_path):
    import subprocess
    import sys

    from trainer.export import export_checkpoint

    x, y = _toy_set()
    train(_tiny_cfg(tmp_path, epochs=1, out=str(tmp_path / "first")), TrainingData(x, y, x, y), log=lambda *_: None)
    export_checkpoint(tmp_path / "first" / "best.pt", tmp_path / "m.onnx", (x, y))  # folded BatchNorms to measure
    cfg = _tiny_cfg(tmp_path, epochs=1, init_from=str(tmp_path / "m.onnx"), out=str(tmp_path / "arrays"))
    index = write_pack(TrainingData(x, y, x, y), cfg, tmp_path / "pack")
    assert index["start"]["init_from"] == str(tmp_path / "m.onnx")
    with pytest.raises(TrainerError, match="starts from --init-from"):
        read_pack(tmp_path / "pack", _tiny_cfg(tmp_path, init_from="other.pt"))
    with pytest.raises(TrainerError, match="another network"):
        read_pack(tmp_path / "pack", _tiny_cfg(tmp_path, init_from=cfg.init_from, model=None, preset="small",
                                               input_size=32))
    expected = train(cfg, TrainingData(x, y, x, y), log=lambda *_: None)
    shipped = (tmp_path / "m.onnx").read_bytes()
    export_checkpoint(tmp_path / "arrays" / "best.pt", tmp_path / "m.onnx", (x, y))  # another model, same path
    with pytest.raises(TrainerError, match="changed since the pack was made"):
        read_pack(tmp_path / "pack", cfg)
    (tmp_path / "m.onnx").write_bytes(shipped)
    bare = dict(cfg.to_dict(), out=str(tmp_path / "bare"))
    script = BARE_PYTHON + f"""
import json
from trainer.pack import read_pack
from trainer.train import TrainConfig, train
cfg = TrainConfig.from_dict(json.loads({json.dumps(bare)!r}))
print(train(cfg, read_pack({str(tmp_path / "pack")!r}, cfg), log=lambda *_: None)["roc_auc"])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) == pytest.approx(expected["roc_auc"], abs=1e-9)
