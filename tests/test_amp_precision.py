"""Patch 0011 (AMP settings): the config keys, the precision refusals, and agreement of a reduced
precision with fp32 on the real sample tables, offline (modules loaded from the patch text)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from npu_overlay.engine.patch_files import extract, load_module, overlay_dir

OVERLAY = overlay_dir()

AMP_PATCH = next(OVERLAY.glob("*-AMP-settings-*.patch"))
SAMPLES = sorted((Path(__file__).parent / "data" / "tables").glob("*.png"))
NPU_CONFIGS = ("configs/table/SLANet_npu.yml", "configs/table/SLANet_ch_npu.yml")


@pytest.fixture(scope="module")
def precision(tmp_path_factory):
    return load_module(extract("tools/infer/precision.py", tmp_path_factory.mktemp("p")), "_amp_precision")


@pytest.fixture(scope="module")
def export_precision(tmp_path_factory):
    return load_module(extract("tools/export_precision.py", tmp_path_factory.mktemp("e")), "_amp_export")


@pytest.fixture(scope="module")
def export_config(tmp_path_factory):
    return load_module(extract("tools/export_config.py", tmp_path_factory.mktemp("c")), "_amp_cfg")


def npu_config(path: str, dest: Path) -> Path:
    """The NPU config as patch 0005 creates it and the AMP patch (0011) extends it."""
    assert f"+++ b/{path}" in AMP_PATCH.read_text(encoding="utf-8")
    return extract(path, dest)


@pytest.mark.parametrize("path", NPU_CONFIGS)
def test_npu_configs_carry_upstreams_amp_keys_with_a_reason_per_black_list_entry(path, precision, export_config,
                                                                                 tmp_path):
    base = {"Global": {"use_amp": True, "amp_custom_white_list": ["concat"]},
            "Architecture": {"model_type": "table", "algorithm": "SLANet", "Head": {"name": "SLAHead"}}}
    (tmp_path / Path(path).name.replace("_npu", "")).write_text(yaml.safe_dump(base))
    created = npu_config(path, tmp_path)
    shutil.move(created, tmp_path / Path(path).name)
    glob = export_config.load_config(str(tmp_path / Path(path).name))["Global"]
    # the NPU config overrides its base: off until the host can convert, fp16 O2, its own lists
    assert glob["use_amp"] is False
    assert (glob["amp_level"], glob["amp_dtype"]) == ("O2", "float16")
    assert glob["amp_custom_white_list"] == []
    assert glob["amp_custom_black_list"] == list(precision.DEFAULT_BLACK_LIST)
    text = (tmp_path / Path(path).name).read_text()
    for op in glob["amp_custom_black_list"]:
        line = next(line for line in text.splitlines() if line.strip().startswith(f"- {op} "))
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, line


def test_export_reads_the_amp_keys_of_table_configs_only(export_precision):
    table = {"Architecture": {"model_type": "table"},
             "Global": {"use_amp": True, "amp_dtype": "bfloat16", "amp_custom_black_list": ["softmax"]}}
    settings = export_precision.amp_settings(table["Global"])
    assert settings == {"precision": "bf16", "amp_dtype": "bfloat16", "amp_level": "O2",
                        "black_list": ["softmax"], "white_list": []}
    assert export_precision.amp_settings({"use_amp": False}) is None
    with pytest.raises(export_precision.ExportPrecisionError, match="amp_dtype"):
        export_precision.amp_settings({"use_amp": True, "amp_dtype": "float8"})
    # a recognition config that sets use_amp for training exports fp32 as before
    assert export_precision.preflight({"Architecture": {"model_type": "rec"}, "Global": {"use_amp": True}}) is None


def test_amp_export_needs_a_paddle_that_can_convert(export_precision):
    import paddle

    config = {"Architecture": {"model_type": "table"}, "Global": {"use_amp": True}}
    if paddle.device.is_compiled_with_cuda() or paddle.device.get_all_custom_device_type():
        assert export_precision.preflight(config)["precision"] == "fp16"
    else:
        with pytest.raises(export_precision.ExportPrecisionError, match="CPU-only"):
            export_precision.preflight(config)


def test_cpu_bf16_support_is_read_from_the_cpu_flags(precision, tmp_path):
    without = tmp_path / "avx2"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n")
    with_bf16 = tmp_path / "bf16"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert precision.cpu_has_bf16(str(without)) is False
    assert precision.cpu_has_bf16(str(with_bf16)) is True
    here = Path("/proc/cpuinfo")
    if here.is_file():
        assert precision.cpu_has_bf16() == ("avx512_bf16" in here.read_text() or "amx_bf16" in here.read_text())


@pytest.mark.parametrize("wanted, kind, cpu_bf16, refused", [
    ("fp16", "cpu", True, "fp16 cannot run on the CPU"),
    ("bf16", "cpu", False, "needs avx512_bf16"),
    ("int8", "cpu", True, "int8 only with TensorRT"),
    ("bf16", "cpu", True, None), ("fp16", "custom", False, None), ("bf16", "gpu", False, None),
    ("fp32", "cpu", False, None),
])
def test_precisions_a_device_cannot_run_are_refused(precision, wanted, kind, cpu_bf16, refused):
    reason = precision.problem(wanted, kind, cpu_bf16=cpu_bf16)
    assert (reason is None) if refused is None else (refused in reason)


def test_tensorrt_keeps_upstreams_precision_handling(precision):
    assert precision.problem("int8", "gpu", use_tensorrt=True) is None


def test_resolve_stops_with_one_line_before_any_model_loads(precision, tmp_path, capsys):
    args = argparse.Namespace(precision="fp16", use_gpu=False, use_npu=False, use_tensorrt=False,
                              table_model_dir=str(tmp_path / "never-read"))
    with pytest.raises(SystemExit) as stop:
        precision.resolve(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --precision fp16: fp16 cannot run on the CPU")


def test_a_reduced_precision_export_is_checked_against_the_device(precision, tmp_path, capsys):
    (tmp_path / "precision.json").write_text(json.dumps({"precision": "fp16", "black_list": ["softmax"]}))
    assert "holds a fp16 model" in precision.model_problem(str(tmp_path), "cpu")
    assert precision.model_problem(str(tmp_path), "custom") is None
    args = argparse.Namespace(precision="fp32", use_gpu=False, use_tensorrt=False, table_model_dir=str(tmp_path))
    with pytest.raises(SystemExit):
        precision.resolve(args)
    assert "holds a fp16 model" in capsys.readouterr().err
    assert precision.black_list(args, str(tmp_path)) == ["softmax"]  # the export's own list wins


def test_bf16_on_a_cpu_that_has_it_runs_through_onednn(precision):
    args = argparse.Namespace(precision="bf16", use_gpu=False, use_tensorrt=False, enable_mkldnn=False)
    if precision.cpu_has_bf16():
        assert precision.resolve(args).enable_mkldnn is True
    else:
        with pytest.raises(SystemExit):
            precision.resolve(args)


def _decode(model, image_path):
    from npu_overlay.bench.measure import decode_outputs
    from npu_overlay.table_input import preprocess, read_image

    image = read_image(image_path)
    return decode_outputs(model.run(preprocess(image)[0])), float(max(image.shape[:2]))


@pytest.fixture(scope="module")
def fp32_reference(slanet_plus_dir):
    from npu_overlay.amp.agreement import Predictor

    model = Predictor(Path(slanet_plus_dir) / "inference.pdmodel", onednn=False)
    return {p.name: _decode(model, p) for p in SAMPLES}


def test_emulation_harness_alone_changes_nothing_and_fp16_rounding_is_real(slanet_plus_dir, fp32_reference,
                                                                           precision):
    from npu_overlay.amp.emulate import EmulatedModel

    prefix = str(Path(slanet_plus_dir) / "inference")
    sample = SAMPLES[0]
    reference, _ = fp32_reference[sample.name]
    harness, _ = _decode(EmulatedModel(prefix, "fp32", set(precision.DEFAULT_BLACK_LIST)), sample)
    assert np.array_equal(harness.tokens, reference.tokens)
    assert np.abs(harness.loc - reference.loc).max() < 1e-5
    fp16 = EmulatedModel(prefix, "fp16", set(precision.DEFAULT_BLACK_LIST))
    assert fp16.reduced_ops > 300 and fp16.rounded_params > 50
    rounded, _ = _decode(fp16, sample)
    n = min(rounded.sequence_steps, reference.sequence_steps)
    assert np.abs(rounded.loc[:n] - reference.loc[:n]).max() > 1e-4  # it really computed in fp16


def test_bf16_agrees_with_fp32_on_the_sample_tables(slanet_plus_dir, fp32_reference, precision):
    """Real bf16 (oneDNN) where this CPU has it, else bf16 emulated; same tokens on every sample."""
    from npu_overlay.amp.agreement import Predictor
    from npu_overlay.amp.emulate import EmulatedModel

    black = set(precision.DEFAULT_BLACK_LIST)
    if precision.cpu_has_bf16():
        model = Predictor(Path(slanet_plus_dir) / "inference.pdmodel", True, set(precision.CPU_BF16_OPS) - black)
    else:
        model = EmulatedModel(str(Path(slanet_plus_dir) / "inference"), "bf16", black, blocks={0})
    moved = []
    for sample in SAMPLES:
        reference, scale = fp32_reference[sample.name]
        decoded, _ = _decode(model, sample)
        assert np.array_equal(decoded.tokens, reference.tokens), sample.name
        moved.append(np.abs(decoded.loc - reference.loc[: len(decoded.loc)]).max() * scale)
    assert max(moved) > 0  # reduced precision really ran
    assert max(moved) < 20, moved  # pixels in the original image


def test_bf16_on_the_cpu_refuses_a_pir_export_that_paddle_cannot_run(precision, tmp_path):
    (tmp_path / "inference.json").write_text("{}")
    (tmp_path / "inference.pdiparams").write_bytes(b"")
    assert "PIR export" in precision.model_problem(str(tmp_path), "cpu", precision="bf16")
    assert precision.model_problem(str(tmp_path), "cpu", precision="fp32") is None
    assert precision.model_problem(str(tmp_path), "custom", precision="bf16") is None
