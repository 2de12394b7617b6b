import numpy as np

from trainer.cli import main
from trainer.sampling import lookalike_neighbours, pk_batches


def _two_looks(people_per_look=10, photos=3):
    """People whose teacher embeddings sit around one of two far-apart directions: two 'looks'."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2 * people_per_look), photos)
    look = (labels >= people_per_look).astype(int)
    embeddings = np.eye(8)[look] * 5 + rng.normal(scale=0.3, size=(len(labels), 8))
    return labels, embeddings.astype(np.float32), look


def test_look_alikes_are_the_nearest_other_people_by_mean_teacher_face():
    labels, embeddings, look = _two_looks()
    known = np.ones(len(labels), bool)
    known[0] = False  # a photo the teachers never saw: left out of its person's mean
    neighbours = lookalike_neighbours(labels, embeddings, known, count=4)
    look_of = {int(y): int(g) for y, g in zip(labels, look)}
    assert sorted(neighbours) == list(range(20))
    for person, others in neighbours.items():
        assert len(others) == 4 and person not in others
        assert all(look_of[int(o)] == look_of[person] for o in others)


def test_a_lookalike_batch_gathers_one_look_and_a_plain_one_is_unchanged():
    labels, embeddings, look = _two_looks()
    neighbours = lookalike_neighbours(labels, embeddings, np.ones(len(labels), bool), count=8)
    for batch in pk_batches(labels, p=4, k=3, seed=1, neighbours=neighbours, lookalike=1.0):
        assert len(batch) == 12 and len(set(labels[batch])) == 4 and len(set(look[batch])) == 1
    plain = pk_batches(labels, p=4, k=3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(plain, pk_batches(labels, 4, 3, 1, neighbours, lookalike=0.0)))
    mixed = pk_batches(labels, p=4, k=3, seed=1, neighbours=neighbours, lookalike=0.5)
    assert len(mixed) == len(plain)


def test_a_lookalike_share_out_of_range_or_without_batches_is_refused_in_one_line(tmp_path, capsys):
    for flags, says in ((["--lookalike-batches", "1.5", "--pair-mode", "batch"], "--lookalike-batches"),
                        (["--lookalike-batches", "0.5"], "--lookalike-batches"),
                        (["--lookalike-space", "face"], "look-alike space")):
        assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")] + flags) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1
