"""The shipped architectures reproduce the published figures of REFERENCE.md exactly."""

import pytest

import cnndsl
from cnndsl.resources import shipped_architectures

# name: (params, inference params, MACs, inference MACs) — REFERENCE.md
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
