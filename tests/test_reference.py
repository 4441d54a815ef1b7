"""The shipped architectures reproduce the published figures of docs/reference.md exactly."""

import pytest

import cnndsl
from cnndsl.resources import shipped_architectures

# name: (params, inference params, MACs, inference MACs) — docs/reference.md
PUBLISHED = {
    "lenet5": (61_706, 61_706, 416_520, 416_520),
    "alexnet": (61_100_840, 61_100_840, 714_188_480, 714_188_480),
    "alexnet2012": (60_965_224, 60_965_224, 724_406_816, 724_406_816),
    "vgg16": (138_357_544, 138_357_544, 15_470_264_320, 15_470_264_320),
    "googlenet": (13_378_280, 6_998_552, 1_591_044_096, 1_582_671_872),
    "resnet18": (11_689_512, 11_689_512, 1_814_073_344, 1_814_073_344),
    "resnet50": (25_557_032, 25_557_032, 4_089_184_256, 4_089_184_256),
}


def test_every_shipped_architecture_has_a_published_figure():
    assert set(shipped_architectures()) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_params_and_macs(name):
    net = cnndsl.load(name)
    assert (net.param_count, net.inference_param_count, net.macs, net.inference_macs) == PUBLISHED[name]
    assert net.output_shape == ((10,) if name == "lenet5" else (1000,))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_each_file_names_its_paper_and_figures(name):
    head = "\n".join(shipped_architectures()[name].read_text().splitlines()[:8])
    assert head.startswith("# ") and f"{PUBLISHED[name][0]:,}" in head and f"{PUBLISHED[name][2]:,}" in head


def test_language_md_lenet_example():
    net = cnndsl.parse("""network LeNet5
input 1x32x32
conv 6 5x5; tanh
avgpool 2x2
conv 16 5x5; tanh
avgpool 2x2
flatten
dense 120; tanh
dense 84; tanh
dense 10
softmax
""")
    assert (net.param_count, net.macs) == (61_706, 416_520)


TORCHVISION_GOOGLENET = """network GoogLeNetTV
input 3x224x224
block cbr(c, k, s=1, p=0) { conv c k stride=s pad=p bias=false; bn eps=0.001; relu }
block inception(c1, c3r, c3, c5r, c5, pp) {
  concat {
    branch { cbr(c1, 1) }
    branch { cbr(c3r, 1); cbr(c3, 3, p=1) }
    branch { cbr(c5r, 1); cbr(c5, 3, p=1) }
    branch { maxpool 3x3 stride=1 pad=1 ceil=true; cbr(pp, 1) }
  }
}
cbr(64, 7, 2, 3)
maxpool 3x3 stride=2 ceil=true
cbr(64, 1)
cbr(192, 3, p=1)
maxpool 3x3 stride=2 ceil=true
inception(64, 96, 128, 16, 32, 32)
inception(128, 128, 192, 32, 96, 64)
maxpool 3x3 stride=2 ceil=true
inception(192, 96, 208, 16, 48, 64)
inception(160, 112, 224, 24, 64, 64)
inception(128, 128, 256, 24, 64, 64)
inception(112, 144, 288, 32, 64, 64)
inception(256, 160, 320, 32, 128, 128)
maxpool 2x2 stride=2 ceil=true
inception(256, 160, 320, 32, 128, 128)
inception(384, 192, 384, 48, 128, 128)
gap
flatten
dropout 0.2
fc 1000
"""


def test_an_unshipped_torchvision_googlenet_written_by_a_user():
    """torchvision.models.googlenet(aux_logits=False): batch norm, 3×3 in the '5×5' branch (docs/reference.md)."""
    net = cnndsl.parse(TORCHVISION_GOOGLENET)
    assert (net.param_count, net.macs) == (6_624_904, 1_498_376_192)
