import pytest
import torch

from trainer.checkpoint import load_weights, save_checkpoint
from trainer.config import TrainConfig
from trainer.errors import TrainerError
from trainer.grow import can_grow, padded_for_runtime
from trainer.model import DenseNetEmbedding, ModelConfig

SMALL = dict(growth_rate=4, block_config=(2, 2, 2), num_init_features=8, bn_size=2, input_size=48, name="tiny")


def _trained_small(tmp_path):
    """A small network with BatchNorm statistics that are not the defaults, saved as a checkpoint."""
    torch.manual_seed(0)
    small = DenseNetEmbedding(ModelConfig(**SMALL)).train()
    with torch.no_grad():
        for _ in range(3):
            small(torch.randn(6, 3, 48, 48) * 2 + 0.5)
    path = tmp_path / "small.pt"
    save_checkpoint(path, {"model": small.state_dict(), "model_config": small.config.to_dict()})
    return small.eval(), path


@pytest.mark.parametrize("blocks, head", [((2, 2, 2), "flatten"), ((2, 3, 5), "pool"), ((3, 2, 4), "flatten")])
def test_a_grown_network_computes_the_same_embedding_as_the_one_it_grew_from(tmp_path, blocks, head):
    small, path = _trained_small(tmp_path)
    large = DenseNetEmbedding(ModelConfig(**dict(SMALL, block_config=blocks, head=head)))
    load_weights(large, path)
    x = torch.randn(4, 3, 48, 48)
    with torch.no_grad():
        assert torch.allclose(large.eval()(x), small(x), atol=1e-5)
    assert sum(p.numel() for p in large.parameters()) > sum(p.numel() for p in small.parameters())


def test_a_grown_network_learns_through_its_new_layers(tmp_path):
    _, path = _trained_small(tmp_path)
    large = DenseNetEmbedding(ModelConfig(**dict(SMALL, block_config=(2, 2, 3))))
    load_weights(large, path)
    optimizer = torch.optim.SGD(large.parameters(), lr=0.1)
    for _ in range(2):  # the first step opens the zero weights that read the new layer, the second reaches it
        optimizer.zero_grad()
        large.train()(torch.randn(6, 3, 48, 48)).sum().backward()
        optimizer.step()
    new_layer = large.features.denseblock3.denselayer3
    assert new_layer.conv2.weight.grad.abs().sum() > 0


def test_a_network_that_is_not_a_larger_one_is_refused_in_one_line(tmp_path):
    _, path = _trained_small(tmp_path)
    for other in (dict(SMALL, growth_rate=8), dict(SMALL, block_config=(2, 1, 2)), dict(SMALL, block_config=(2, 2))):
        with pytest.raises(TrainerError, match="not a smaller one it can grow from"):
            load_weights(DenseNetEmbedding(ModelConfig(**other)), path)
    flat = ModelConfig(**dict(SMALL, head="flatten"))
    assert not can_grow(flat, ModelConfig(**dict(SMALL, head="pool")))
    assert not can_grow(flat, ModelConfig(**dict(SMALL, head="flatten", input_size=96)))  # other positions
    flat_path = tmp_path / "flat.pt"
    save_checkpoint(flat_path, {"model": DenseNetEmbedding(flat).state_dict(), "model_config": flat.to_dict()})
    with pytest.raises(TrainerError, match="not a smaller one it can grow from"):
        load_weights(DenseNetEmbedding(ModelConfig(**dict(SMALL, head="flatten", input_size=96))), flat_path)


def test_weights_that_do_not_match_their_own_network_are_refused_in_one_line(tmp_path):
    small, _ = _trained_small(tmp_path)
    for state in ({k: v for k, v in small.state_dict().items() if "denselayer1.conv2" not in k},
                  dict(small.state_dict(), stray=torch.zeros(1))):
        path = tmp_path / "odd.pt"
        save_checkpoint(path, {"model": state, "model_config": small.config.to_dict()})
        with pytest.raises(TrainerError, match="do not match their network"):
            load_weights(DenseNetEmbedding(ModelConfig(**dict(SMALL, block_config=(2, 2, 3)))), path)


def test_blocks_and_head_options_build_the_network():
    config = TrainConfig(preset="small", input_size=96, blocks="4,8,16,16", head="flatten").model
    assert config.block_config == (4, 8, 16, 16) and config.head == "flatten" and config.final_map_size() == 3
    assert config.describe() == "densenet-small 4-8-16-16, flattened head"
    with pytest.raises(TrainerError, match="--blocks"):
        TrainConfig(preset="small", blocks="4,x")
    with pytest.raises(ValueError, match="head"):
        TrainConfig(preset="small", head="attention")


def test_padded_for_runtime_keeps_the_embedding_with_transitions_a_multiple_of_16():
    torch.manual_seed(0)
    config = ModelConfig(growth_rate=16, block_config=(2, 1, 1), num_init_features=16, bn_size=1, input_size=48,
                         head="flatten", name="aligned")
    narrow = DenseNetEmbedding(config).train()
    with torch.no_grad():
        narrow(torch.randn(6, 3, 48, 48) * 2 + 0.5)  # BatchNorm statistics that are not the defaults
    narrow.eval()
    padded = padded_for_runtime(narrow)
    x = torch.randn(4, 3, 48, 48)
    with torch.no_grad():
        assert torch.allclose(padded(x), narrow(x), atol=1e-5)
    widths = [m.conv.out_channels for name, m in padded.features.named_children() if name.startswith("transition")]
    assert widths == [32, 32] and narrow.features.transition1.conv.out_channels == 24
    assert padded_for_runtime(padded) is padded
    tiny = DenseNetEmbedding(ModelConfig(**SMALL))  # growth 4: blocked kernels cannot run it, padding would not pay
    assert padded_for_runtime(tiny) is tiny
