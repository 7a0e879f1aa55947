"""Pristine upstream against the patched tree, both through upstream's own scripts.

The same converted SLANet_plus weights are exported by each tree's `tools/export_model.py`
(upstream's SLANet_ch config, dynamic input as upstream exports it; the patched tree in both
decode modes, early_stop with its default interval of 8 and with 1) and run by each tree's `ppstructure/table/predict_structure.py` on the sample
tables. Structure tokens must be identical and boxes equal to within 1e-3 px at the model's
input resolution (see test_static_decode_parity.py for why larger images scale it).
Training is untouched: teacher-forced outputs and loss are the same in both trees.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.pipeline.export import PLAIN_CONFIG, export_table_model
from tools.pipeline.tree import run_in_tree, run_source_in_tree

TABLES = Path(__file__).resolve().parent / "data" / "tables"
TABLE_DICT = "ppocr/utils/dict/table_structure_dict_ch.txt"
BOX_ATOL_AT_INPUT_PX = 1e-3
INPUT_PX = 488

pytestmark = pytest.mark.upstream


def _predict_structure(tree: Path, work: Path, options: list[str]) -> dict[str, tuple[list, np.ndarray]]:
    export = export_table_model(tree, work, config=PLAIN_CONFIG, options=options)
    out = work / "predict"
    proc = run_in_tree(tree, ["ppstructure/table/predict_structure.py", f"--table_model_dir={export['dir']}",
                              f"--table_char_dict_path={TABLE_DICT}", f"--image_dir={TABLES}",
                              f"--output={out}", "--use_gpu=False"], work / "predict.log")
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
                                     ["Architecture.Head.early_stop_interval=1"]],
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
    from tools.convert_weights import convert
    from tools.model_cache import model_dir

    weights = convert(model_dir("slanet_plus"), "SLANet_ch", tmp_path / "w")
    script = tmp_path / "probe.py"
    script.write_text(TRAINING_PROBE)
    outputs = {}
    for label, tree in (("pristine", pin_tree), ("patched", patched_tree)):
        out = tmp_path / f"{label}.npz"
        proc = run_source_in_tree(tree, script, [str(weights), str(out)], tmp_path / f"{label}.log")
        assert proc.returncode == 0, (tmp_path / f"{label}.log").read_text()[-3000:]
        outputs[label] = np.load(out)
    assert set(outputs["pristine"].files) == {"structure_probs", "loc_preds"}
    for key in outputs["pristine"].files:
        np.testing.assert_array_equal(outputs["patched"][key], outputs["pristine"][key])
