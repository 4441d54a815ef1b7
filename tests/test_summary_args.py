"""`summary --args`: GoogLeNet's rows are the paper's Table 1 (Szegedy et al. 2015), ResNet-18's the
stage table."""

import json
import subprocess
import sys

import cnndsl
from cnndsl.summary import args_table

# Table 1 of "Going Deeper with Convolutions": output size, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj
TABLE_1 = {
    "inception3a": ((256, 28, 28), (64, 96, 128, 16, 32, 32)),
    "inception3b": ((480, 28, 28), (128, 128, 192, 32, 96, 64)),
    "inception4a": ((512, 14, 14), (192, 96, 208, 16, 48, 64)),
    "inception4b": ((512, 14, 14), (160, 112, 224, 24, 64, 64)),
    "inception4c": ((512, 14, 14), (128, 128, 256, 24, 64, 64)),
    "inception4d": ((528, 14, 14), (112, 144, 288, 32, 64, 64)),
    "inception4e": ((832, 14, 14), (256, 160, 320, 32, 128, 128)),
    "inception5a": ((832, 7, 7), (256, 160, 320, 32, 128, 128)),
    "inception5b": ((1024, 7, 7), (384, 192, 384, 48, 128, 128)),
}


def test_googlenet_by_block_arguments_is_table_1():
    table = args_table(cnndsl.load("googlenet"), depth=0)
    assert table["parameters"] == ["n1x1", "n3x3red", "n3x3", "n5x5red", "n5x5", "pool_proj"]
    rows = {r["name"]: r for r in table["rows"]}
    for name, (shape, args) in TABLE_1.items():
        assert tuple(rows[name]["output"]) == shape and tuple(rows[name]["args"].values()) == args
    # each row's parameters from its own columns, by hand: 1×1 convolutions read C_in channels, the 3×3 and
    # 5×5 read their reductions; a bias per filter (the paper's "params" column is rounded and, for 4c and 5a,
    # disagrees with its own row)
    c_in = 192
    for name, (shape, (a, b, c, d, e, f)) in TABLE_1.items():
        weights = a * c_in + b * c_in + 9 * b * c + d * c_in + 25 * d * e + f * c_in
        assert rows[name]["params"] == weights + a + b + c + d + e + f, name
        c_in = shape[0]


def test_resnet_stage_table_and_json():
    run = subprocess.run([sys.executable, "-m", "cnndsl", "summary", "resnet18", "--args", "--json"],
                         capture_output=True, text=True)
    table = json.loads(run.stdout)
    assert table["parameters"] == ["ch", "stride"]
    stages = [(r["name"], r["args"].get("ch")) for r in table["rows"] if r["op"] in ("basic", "down")]
    assert stages == [("layer1_0", 64), ("layer1_1", 64), ("layer2_0", 128), ("layer2_1", 128),
                      ("layer3_0", 256), ("layer3_1", 256), ("layer4_0", 512), ("layer4_1", 512)]
    text = subprocess.run([sys.executable, "-m", "cnndsl", "summary", "googlenet", "--args"], capture_output=True,
                          text=True).stdout
    assert "n3x3red" in text.splitlines()[2] and "inception5b" in text
