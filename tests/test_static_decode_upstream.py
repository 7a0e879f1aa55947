"""Pristine upstream against the patched tree, both through upstream's own scripts.

The same converted SLANet_plus weights are exported by each tree's `tools/export_model.py`
(upstream's SLANet_ch config, dynamic input as upstream exports it; the patched tree with its
default early_stop over blocks of 8 steps, with blocks of 1, and with a fixed trip count) and
run by each tree's `ppstructure/table/predict_structure.py` on the sample tables. Structure tokens must be identical and boxes equal to within 1e-3 px at the model's
input resolution (see test_static_decode_parity.py for why larger images scale it).
Training is untouched: teacher-forced outputs and loss are the same in both trees.
TableAttentionHead (TableRec-RARE), which no released model of ours covers, is compared on the
same randomly initialised weights in both trees.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from npu_overlay.pipeline.export import PLAIN_CONFIG, export_table_model
from npu_overlay.pipeline.tree import run_in_tree

TABLES = Path(__file__).resolve().parent / "data" / "tables"
TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"
BOX_ATOL_AT_INPUT_PX = 1e-3
INPUT_PX = 488

pytestmark = pytest.mark.upstream


def _predict_structure(tree: Path, work: Path, options: list[str],
                       predict_options: tuple[str, ...] = ()) -> dict[str, tuple[list, np.ndarray]]:
    export = export_table_model(tree, work, config=PLAIN_CONFIG, options=options)
    out = work / "predict"
    proc = run_in_tree(tree, ["ppstructure/table/predict_structure.py", f"--table_model_dir={export['dir']}",
                              f"--table_char_dict_path={TABLE_DICT}", f"--image_dir={TABLES}",
                              f"--output={out}", "--use_gpu=False", *predict_options], work / "predict.log")
    assert proc.returncode == 0, (work / "predict.log").read_text()[-3000:]
    log = (work / "predict.log").read_text()
    names = re.findall(r"Predict time of (\S+):", log)
    results = []
    for line in (out / "infer.txt").read_text().splitlines():
        tokens, boxes = line[len("result: "):].split("], [", 1)
        results.append((ast.literal_eval(tokens + "]"), np.array(json.loads("[" + boxes))))
    assert len(names) == len(results) == len(list(TABLES.glob("*.png")))
    return {Path(n).name: r for n, r in zip(names, results)}


@pytest.fixture(scope="module")
def upstream(pin_tree, tmp_path_factory):
    return _predict_structure(pin_tree, tmp_path_factory.mktemp("pristine"), [])


@pytest.mark.parametrize("options", [[], ["Architecture.Head.decode_mode=fixed"],
                                     ["Architecture.Head.decode_unroll=1"]],
                         ids=["early_stop", "fixed", "early_stop_1"])
def test_patched_tree_reads_every_table_as_upstream(upstream, patched_tree, tmp_path, options):
    ours = _predict_structure(patched_tree, tmp_path, options)
    assert ours.keys() == upstream.keys()
    for name, (tokens, boxes) in upstream.items():
        our_tokens, our_boxes = ours[name]
        assert our_tokens == tokens, name
        height, width = cv2.imread(str(TABLES / name)).shape[:2]
        atol = BOX_ATOL_AT_INPUT_PX * max(1.0, max(height, width) / INPUT_PX)
        np.testing.assert_allclose(our_boxes, boxes, rtol=0, atol=atol, err_msg=name)


def test_enable_mkldnn_reads_every_table_as_upstream(upstream, patched_tree, tmp_path):
    """--enable_mkldnn (oneDNN on the patched tree's Paddle 3 export): upstream's tokens, boxes within 1 px of
    the image (issue 11; before patch 0013 CSPPAN's resizes moved them by up to 67 px on large_22x9)."""
    ours = _predict_structure(patched_tree, tmp_path, [], ("--enable_mkldnn=True",))
    assert "oneDNN left off" not in (tmp_path / "predict.log").read_text()
    assert ours.keys() == upstream.keys()
    for name, (tokens, boxes) in upstream.items():
        our_tokens, our_boxes = ours[name]
        assert our_tokens == tokens, name
        np.testing.assert_allclose(our_boxes, boxes, rtol=0, atol=1.0, err_msg=name)


TRAINING_PROBE = r'''
import json, sys, numpy as np, paddle, yaml
from ppocr.modeling.architectures import build_model
paddle.seed(0)
cfg = yaml.safe_load(open("configs/table/SLANet_ch.yml"))["Architecture"]
cfg["Backbone"]["pretrained"] = False
cfg["Head"]["out_channels"] = 50
model = build_model(cfg)
model.set_state_dict(paddle.load(sys.argv[1]))
model.train()
rng = np.random.default_rng(0)
image = paddle.to_tensor(rng.standard_normal((2, 3, 488, 488)).astype("float32"))
structure = paddle.to_tensor(rng.integers(1, 49, (2, 502)).astype("int64"))
lengths = paddle.to_tensor(np.array([40, 60], dtype="int64"))
out = model(image, data=[structure, None, None, lengths, None])  # targets[0], targets[-2]
np.savez(sys.argv[2], **{k: v.numpy() for k, v in out.items()})
'''


def test_training_outputs_are_unchanged(pin_tree, patched_tree, tmp_path):
    from npu_overlay.convert_weights import convert
    from npu_overlay.model_cache import model_dir

    weights = convert(model_dir("slanet_plus"), "SLANet_ch", tmp_path / "w")
    script = tmp_path / "probe.py"
    script.write_text(TRAINING_PROBE)
    outputs = {}
    for label, tree in (("pristine", pin_tree), ("patched", patched_tree)):
        out = tmp_path / f"{label}.npz"
        proc = run_in_tree(tree, [str(script), str(weights), str(out)], tmp_path / f"{label}.log")
        assert proc.returncode == 0, (tmp_path / f"{label}.log").read_text()[-3000:]
        outputs[label] = np.load(out)
    assert set(outputs["pristine"].files) == {"structure_probs", "loc_preds"}
    for key in outputs["pristine"].files:
        np.testing.assert_array_equal(outputs["patched"][key], outputs["pristine"][key])


ATTENTION_HEAD_PROBE = r'''
import sys, numpy as np, paddle
from ppocr.modeling.heads.table_att_head import TableAttentionHead
paddle.seed(0)
extra = dict(a.split("=") for a in sys.argv[2:])
extra = {k: (int(v) if v.isdigit() else v) for k, v in extra.items()}
# TableRec-RARE's head (configs/table/table_mv3.yml) on 488x488 inputs: 16 x 16 positions
head = TableAttentionHead(in_channels=[96], hidden_size=256, in_max_len=488, max_text_length=500,
                          out_channels=30, loc_reg_num=4, **extra)
head.eval()
rng = np.random.default_rng(0)
fea = paddle.to_tensor(rng.standard_normal((2, 96, 16, 16)).astype("float32"))
with paddle.no_grad():
    out = head([fea])
np.savez(sys.argv[1], **{k: v.numpy() for k, v in out.items()})
'''


@pytest.fixture(scope="module")
def attention_head_upstream(pin_tree, tmp_path_factory):
    return _attention_head(pin_tree, tmp_path_factory.mktemp("rare-pristine"), [])


def _attention_head(tree: Path, work: Path, options: list[str]):
    script = work / "probe.py"
    script.write_text(ATTENTION_HEAD_PROBE)
    out = work / "out.npz"
    proc = run_in_tree(tree, [str(script), str(out), *options], work / "probe.log")
    assert proc.returncode == 0, (work / "probe.log").read_text()[-3000:]
    return np.load(out)


@pytest.mark.parametrize("options", [[], ["decode_unroll=all"], ["decode_mode=early_stop"]],
                         ids=["fixed_8", "fixed_all", "early_stop_8"])
def test_table_attention_head_decodes_as_upstream(attention_head_upstream, patched_tree, tmp_path, options):
    ours = _attention_head(patched_tree, tmp_path, options)
    theirs = attention_head_upstream
    eos = theirs["structure_probs"].shape[-1] - 1
    ids, our_ids = theirs["structure_probs"].argmax(-1), ours["structure_probs"].argmax(-1)
    # upstream never stops this head; an early stop pads the steps after every sequence ended
    ended = np.cumsum(ids == eos, axis=1).astype(bool).all(axis=0)
    valid = ids.shape[1] if "decode_mode=early_stop" not in options or not ended.any() else int(ended.argmax()) + 1
    np.testing.assert_array_equal(our_ids[:, :valid], ids[:, :valid])
    for key in ("structure_probs", "loc_preds"):
        np.testing.assert_allclose(ours[key][:, :valid], theirs[key][:, :valid], rtol=0, atol=1e-5, err_msg=key)
