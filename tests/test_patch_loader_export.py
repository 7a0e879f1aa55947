"""The loader patch (0002), the export-config patch (0003) and CSPPAN's resize (0013), on real Paddle exports."""

import shutil

import numpy as np
import pytest
import yaml

from npu_overlay.engine.patch_files import extract, load_module


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return load_module(extract("tools/infer/inference_files.py",
                               tmp_path_factory.mktemp("loader")), "inference_files")


@pytest.fixture(scope="module")
def export_config(tmp_path_factory):
    return load_module(extract("tools/export_config.py",
                               tmp_path_factory.mktemp("export")), "export_config")


@pytest.fixture(scope="module")
def pir_export(tmp_path_factory):
    """A real Paddle 3 export (PIR, inference.json) of a small conv layer."""
    import paddle

    out = tmp_path_factory.mktemp("pir") / "inference"
    layer = paddle.nn.Conv2D(3, 4, 3)
    layer.eval()
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=[paddle.static.InputSpec([1, 3, 8, 8], "float32")]), str(out))
    return out.parent


def test_paddle3_json_export_is_found_and_runs(files, pir_export):
    from paddle import inference

    program, params = files.find_inference_files(str(pir_export))
    assert program.endswith("inference.json") and params.endswith("inference.pdiparams")
    config = inference.Config(program, params)
    config.disable_glog_info()
    files.configure_for_program(config, program)  # memory optimisation on PIR fails creation
    inference.create_predictor(config)


def _summary(config) -> dict[str, str]:
    """Paddle Inference's own table of a Config's options, as a dict."""
    rows = (line.split("|") for line in config.summary().splitlines() if line.startswith("|"))
    return {cells[1].strip(): cells[2].strip() for cells in rows if len(cells) >= 4}


@pytest.mark.parametrize("onednn_requested", [False, True])
def test_onednn_follows_enable_mkldnn_on_pir_programs(files, pir_export, onednn_requested):
    """Paddle 3 turns oneDNN on for a PIR program by default; 0002 keeps it off unless asked for."""
    from paddle import inference

    program, params = files.find_inference_files(str(pir_export))
    config = inference.Config(program, params)
    assert config.mkldnn_enabled()  # Paddle's own default, which the branch exists to undo
    files.configure_for_program(config, program, onednn_requested)
    assert config.mkldnn_enabled() is onednn_requested
    assert _summary(config)["memory_optim"] == "false"
    inference.create_predictor(config)


# CSPPAN's resizes for SLANet's 488x488 input: each level is the ceil-half of the one below
CSPPAN_RESIZES = [(16, 31), (31, 61), (61, 122)]


@pytest.fixture(scope="module")
def upsample_like(tmp_path_factory):
    return load_module(extract("ppocr/modeling/necks/upsample_like.py",
                               tmp_path_factory.mktemp("neck")), "upsample_like")


def _resize_export(directory, resize, size_in, size_out):
    """A real PIR export of one CSPPAN resize, ``resize(x, like)``, at fixed sizes."""
    import paddle

    class Resize(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.zero = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(0.0))

        def forward(self, x, like):
            return resize(x + self.zero, like) + like

    layer = Resize()
    layer.eval()
    spec = [paddle.static.InputSpec([1, 96, size_in, size_in], "float32", "x"),
            paddle.static.InputSpec([1, 96, size_out, size_out], "float32", "like")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(directory / "inference"))
    return str(directory / "inference.json")


def _run(files, program, onednn_requested, x, like):
    from paddle import inference

    config = inference.Config(program, program.replace(".json", ".pdiparams"))
    config.disable_glog_info()
    config.enable_mkldnn()  # Paddle 3's own default for PIR programs, stated
    if not onednn_requested:
        config.disable_mkldnn()
    files.configure_for_program(config, program, onednn_requested)
    predictor = inference.create_predictor(config)
    for name, value in zip(predictor.get_input_names(), (x, like)):
        predictor.get_input_handle(name).copy_from_cpu(value)
    predictor.run()
    return config.mkldnn_enabled(), predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


@pytest.mark.parametrize("size_in, size_out", CSPPAN_RESIZES)
def test_csppan_resize_runs_on_onednn_with_the_cpu_kernels_rows(files, upsample_like, tmp_path, size_in, size_out):
    """0013's resize, exported: 0002 lets oneDNN run it, and it reads exactly the rows of Paddle's own
    CPU kernel for F.upsample(size=...), the op upstream's CSPPAN wrote."""
    import paddle
    import paddle.nn.functional as F

    program = _resize_export(tmp_path, upsample_like.nearest_upsample_like, size_in, size_out)
    assert files.onednn_resize_mismatches(program) == 0
    x = np.random.default_rng(0).standard_normal([1, 96, size_in, size_in]).astype("float32")
    like = np.zeros([1, 96, size_out, size_out], "float32")
    onednn, out = _run(files, program, True, x, like)
    assert onednn
    upstream = F.upsample(paddle.to_tensor(x), size=[size_out, size_out], mode="nearest").numpy()
    np.testing.assert_array_equal(out, upstream)


def test_fractional_resize_keeps_onednn_off_and_upstreams_rows(files, tmp_path):
    """Upstream's CSPPAN resize (16 -> 31), exported: oneDNN reads other rows (Paddle 3.0's bug, shown with
    0002 bypassed), so 0002 leaves oneDNN off even when asked, and the rows are Paddle's CPU kernel's."""
    import paddle.nn.functional as F

    def resize(x, like):
        return F.upsample(x, size=like.shape[2:4], mode="nearest")

    program = _resize_export(tmp_path, resize, 16, 31)
    assert files.onednn_resize_mismatches(program) == 1
    x = np.random.default_rng(0).standard_normal([1, 96, 16, 16]).astype("float32")
    like = np.zeros([1, 96, 31, 31], "float32")
    _, reference = _run(files, program, False, x, like)

    from paddle import inference  # oneDNN on without 0002's check: the bug the check exists for

    config = inference.Config(program, program.replace(".json", ".pdiparams"))
    config.disable_glog_info()
    config.enable_mkldnn()
    predictor = inference.create_predictor(config)
    for name, value in zip(predictor.get_input_names(), (x, like)):
        predictor.get_input_handle(name).copy_from_cpu(value)
    predictor.run()
    bypassed = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    assert not np.array_equal(bypassed, reference), "Paddle's oneDNN resize now matches: 0002's check can go"

    onednn, out = _run(files, program, True, x, like)
    assert not onednn
    np.testing.assert_array_equal(out, reference)


def test_pdmodel_programs_keep_memory_optimisation_and_paddles_onednn(files, slanet_plus_dir):
    from paddle import inference

    program, params = files.find_inference_files(str(slanet_plus_dir))
    config = inference.Config(program, params)
    before = config.mkldnn_enabled()
    files.configure_for_program(config, program, onednn_requested=False)
    assert _summary(config)["memory_optim"] == "true"
    assert config.mkldnn_enabled() is before


def test_old_pdmodel_export_is_still_found(files, slanet_plus_dir):
    program, _ = files.find_inference_files(str(slanet_plus_dir))
    assert program.endswith("inference.pdmodel")


def test_json_is_ignored_by_old_paddle(files, pir_export, tmp_path):
    with pytest.raises(ValueError, match="inference.pdmodel"):
        files.find_inference_files(str(pir_export), suffixes=(".pdmodel",))


def test_missing_params_and_missing_dir_are_named(files, pir_export, tmp_path):
    shutil.copy(pir_export / "inference.json", tmp_path / "inference.json")
    with pytest.raises(ValueError, match=r"no inference model in .*inference.json \+ inference.pdiparams"):
        files.find_inference_files(str(tmp_path))
    with pytest.raises(ValueError, match="does not exist"):
        files.find_inference_files(str(tmp_path / "absent"))


def _write_base(tmp_path):
    base = {"Global": {"save_inference_dir": "./output/base"},
            "Architecture": {"model_type": "table", "algorithm": "SLANet",
                             "Backbone": {"name": "PPLCNet", "pretrained": True},
                             "Head": {"name": "SLAHead", "hidden_size": 256}},
            "Eval": {"dataset": {"transforms": [{"ResizeTableImage": {"max_len": 488}},
                                                {"PaddingTableImage": {"size": [488, 488]}}]}}}
    (tmp_path / "SLANet_ch.yml").write_text(yaml.safe_dump(base))


def test_npu_config_overrides_its_base(export_config, tmp_path):
    _write_base(tmp_path)
    npu = extract("configs/table/SLANet_ch_npu.yml", tmp_path)
    shutil.move(npu, tmp_path / "SLANet_ch_npu.yml")
    config = export_config.load_config(str(tmp_path / "SLANet_ch_npu.yml"))
    arch = config["Architecture"]
    assert arch["Head"] == {"name": "SLAHead", "hidden_size": 256, "decode_mode": "early_stop", "decode_unroll": 8}
    assert arch["Backbone"] == {"name": "PPLCNet", "pretrained": False}
    assert arch["export_input_shape"] == [1, 3, 488, 488]
    batch, shape = export_config.table_input_spec(arch, None, [3, -1, -1], config["Eval"]["dataset"]["transforms"])
    assert (batch, shape) == (1, [3, 488, 488])


def test_without_the_key_the_export_shape_is_upstreams(export_config):
    assert export_config.table_input_spec({"algorithm": "SLANet"}, None, [3, -1, -1]) == (None, [3, -1, -1])


@pytest.mark.parametrize("shape, message", [
    ([1, 3, 512, 512], "differs from the 488x488"), ([1, 1, 488, 488], "3 channels"),
    ([3, 488, 488], r"\[N, C, H, W\]"), ([0, 3, 488, 488], "batch"), ([1, 3, -1, 488], "H must be"),
])
def test_bad_static_shapes_are_refused(export_config, shape, message):
    transforms = [{"PaddingTableImage": {"size": [488, 488]}}]
    with pytest.raises(ValueError, match=message):
        export_config.table_input_spec({"export_input_shape": shape}, None, [3, -1, -1], transforms)


def test_base_cycles_and_missing_bases_are_named(export_config, tmp_path):
    (tmp_path / "a.yml").write_text("_BASE_: b.yml\n")
    (tmp_path / "b.yml").write_text("_BASE_: a.yml\n")
    with pytest.raises(ValueError, match="inherits from itself"):
        export_config.load_config(str(tmp_path / "a.yml"))
    (tmp_path / "c.yml").write_text("_BASE_: nowhere.yml\n")
    with pytest.raises(ValueError, match="nowhere.yml does not exist"):
        export_config.load_config(str(tmp_path / "c.yml"))
