"""The weight converter on the real SLANet_plus export: every tensor survives bit for bit,
bad inputs fail with one line, and (with an upstream tree) upstream's own export loads the
converted weights and reproduces the original export's outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference_runner import run_inference_model
from npu_overlay.convert_weights import MAPS_DIR, convert, head_params, load_inference_params, load_map, write_map
from npu_overlay.table_input import preprocess, read_image
from npu_overlay import child_env

REPO = Path(__file__).resolve().parents[1]
TABLES = REPO / "tests" / "data" / "tables"
SLANET_CH_TENSORS = 389  # SLANet_ch: PPLCNet 1.0 + CSPPAN 96 + SLAHead 256 (upstream's architecture)


@pytest.fixture(scope="module")
def exported(slanet_plus_dir):
    return load_inference_params(slanet_plus_dir)


@pytest.fixture(scope="module")
def converted(slanet_plus_dir, tmp_path_factory):
    return convert(slanet_plus_dir, "SLANet_ch", tmp_path_factory.mktemp("conv") / "slanet_plus")


def _load_pdparams(path: Path) -> dict[str, np.ndarray]:
    import paddle

    return {k: np.asarray(v) for k, v in paddle.load(str(path)).items()}


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = dict(child_env(), PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "npu_overlay.convert_weights", *args],
                          cwd=cwd, env=env, capture_output=True, text=True)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


# ---- offline -------------------------------------------------------------------------------


def test_every_tensor_round_trips_bit_exactly(exported, converted):
    params = load_map("SLANet_ch")
    state = _load_pdparams(converted)
    assert len(exported) == len(state) == len(params) == SLANET_CH_TENSORS
    assert set(state) == set(params)
    for key, entry in params.items():
        original = exported[entry["name"]]
        assert state[key].dtype == original.dtype, key
        assert state[key].tobytes() == original.tobytes(), key


def test_map_uses_each_export_name_once(exported):
    names = [entry["name"] for entry in load_map("SLANet_ch").values()]
    assert len(set(names)) == len(names)
    assert set(names) == set(exported)


def test_head_params_are_the_heads_tensors_without_prefix(slanet_plus_dir, exported):
    params = load_map("SLANet_ch")
    head = head_params(slanet_plus_dir, "SLANet_ch")
    expected = {k[len("head."):]: v["name"] for k, v in params.items() if k.startswith("head.")}
    assert set(head) == set(expected) and head
    for key, name in expected.items():
        assert np.array_equal(head[key], exported[name]), key


def test_cli_converts(slanet_plus_dir, tmp_path, exported):
    proc = run_cli(str(slanet_plus_dir), str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    state = _load_pdparams(tmp_path / "w.pdparams")
    assert len(state) == len(exported)


def test_missing_model_is_one_line(tmp_path):
    proc = run_cli(str(tmp_path / "nothing"), str(tmp_path / "w"))
    assert_one_line_error(proc, "inference.pdmodel")
    assert not list(tmp_path.glob("w*"))


def test_unknown_map_is_one_line(slanet_plus_dir, tmp_path):
    proc = run_cli(str(slanet_plus_dir), str(tmp_path / "w"), "--map", "NoSuchArch")
    assert_one_line_error(proc, "NoSuchArch")
    assert not list(tmp_path.glob("w*"))


def _edited_map(tmp_path: Path, edit) -> Path:
    doc = json.loads((MAPS_DIR / "SLANet_ch.json").read_text(encoding="utf-8"))
    edit(doc["params"])
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_shape_mismatch_names_tensor_and_both_shapes(slanet_plus_dir, tmp_path):
    def edit(params):
        params["head.structure_generator.1.weight"]["shape"] = [256, 30]

    proc = run_cli(str(slanet_plus_dir), str(tmp_path / "w"), "--map", str(_edited_map(tmp_path, edit)))
    name = load_map("SLANet_ch")["head.structure_generator.1.weight"]["name"]
    assert_one_line_error(proc, name, "[256, 50]", "[256, 30]")
    assert not list(tmp_path.glob("w*"))


def test_name_missing_from_model_is_one_line(slanet_plus_dir, tmp_path):
    def edit(params):
        params["head.loc_generator.1.bias"]["name"] = "linear_99.b_0"

    proc = run_cli(str(slanet_plus_dir), str(tmp_path / "w"), "--map", str(_edited_map(tmp_path, edit)))
    assert_one_line_error(proc, "linear_99.b_0")


def test_map_that_leaves_tensors_out_is_one_line(slanet_plus_dir, tmp_path):
    dropped = load_map("SLANet_ch")["head.loc_generator.1.bias"]["name"]

    def edit(params):
        del params["head.loc_generator.1.bias"]

    proc = run_cli(str(slanet_plus_dir), str(tmp_path / "w"), "--map", str(_edited_map(tmp_path, edit)))
    assert_one_line_error(proc, dropped)


def test_write_map_outside_an_upstream_tree_is_one_line(tmp_path):
    proc = run_cli("--write-map", str(tmp_path / "m.json"), "--upstream", str(tmp_path))
    assert_one_line_error(proc, "not an upstream PaddleOCR tree")
    assert not (tmp_path / "m.json").exists()


# ---- with an upstream tree ------------------------------------------------------------------

SLANET_CH_CONFIG = "configs/table/SLANet_ch.yml"


@pytest.mark.upstream
def test_committed_map_is_what_upstream_builds(pin_tree, tmp_path):
    fresh = write_map(pin_tree, SLANET_CH_CONFIG, tmp_path / "SLANet_ch.json")
    assert json.loads(fresh.read_text()) == json.loads((MAPS_DIR / "SLANet_ch.json").read_text())


@pytest.mark.upstream
def test_write_map_with_a_missing_config_is_one_line(pin_tree, tmp_path):
    proc = run_cli("--write-map", str(tmp_path / "m.json"), "--upstream", str(pin_tree),
                   "--config", "configs/table/NoSuch.yml")
    assert_one_line_error(proc, "configs/table/NoSuch.yml")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.upstream
def test_upstream_export_of_converted_weights_reproduces_the_original(
    pin_tree, slanet_plus_dir, converted, tmp_path
):
    out_dir = tmp_path / "export"
    env = dict(os.environ, FLAGS_enable_pir_api="0", PYTHONPATH=str(pin_tree))
    proc = subprocess.run(
        [sys.executable, "tools/export_model.py", "-c", SLANET_CH_CONFIG, "-o",
         f"Global.pretrained_model={str(converted).removesuffix('.pdparams')}",
         f"Global.save_inference_dir={out_dir}",
         "Architecture.Backbone.pretrained=False"],  # no ImageNet download: every weight comes from ours
        cwd=pin_tree, env=env, capture_output=True, text=True,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    # upstream's loader only warns about keys or shapes it cannot use
    assert "not in model" not in log and "not matched" not in log, log[-3000:]
    assert (out_dir / "inference.pdmodel").is_file()

    batch, _ = preprocess(read_image(TABLES / "grid_12x6.png"))
    original = run_inference_model(slanet_plus_dir, batch)
    rebuilt = run_inference_model(out_dir, batch)
    assert len(original) == len(rebuilt) == 2
    # same weights, same upstream head: the outputs are identical, not merely close
    for ours, theirs in zip(rebuilt, original):
        np.testing.assert_array_equal(ours, theirs)
