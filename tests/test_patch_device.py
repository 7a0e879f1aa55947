"""The device patch (0004): --device parsing and the NPU preflight, run for real on this host."""

import importlib.util
import os
import subprocess
import sys

import pytest

from npu_overlay.engine.patch_files import extract, load_module


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    return load_module(extract("tools/infer/device.py", tmp_path_factory.mktemp("dev")), "infer_device")


NPU_HOST = importlib.util.find_spec("paddle_custom_device") is not None


@pytest.mark.parametrize("spec, parsed", [
    ("cpu", ("cpu", None, 0)), ("gpu:1", ("gpu", None, 1)), ("npu", ("custom", "npu", 0)),
    ("NPU:3", ("custom", "npu", 3)), ("custom:mlu:2", ("custom", "mlu", 2)),
])
def test_device_specs_parse(device, spec, parsed):
    assert tuple(device.parse_device(spec)) == parsed


@pytest.mark.parametrize("spec", ["tpu", "npu:x", "cpu:0", "custom:", "gpu:1:2", ""])
def test_unknown_device_is_refused_with_the_accepted_forms(device, spec):
    with pytest.raises(ValueError, match=r"unknown device .*cpu, gpu\[:ID\], npu\[:ID\] or custom:TYPE"):
        device.parse_device(spec)


def test_npu_preflight_names_everything_missing_here(device):
    problems = device.npu_problems(environ={})
    text = "; ".join(problems)
    assert "ASCEND_TOOLKIT_HOME" in text and "ASCEND_HOME_PATH" in text
    # the plugin is named exactly when it is not installed
    assert ("paddle-custom-npu" in text) is not NPU_HOST
    if not NPU_HOST:
        with pytest.raises(device.DeviceUnavailable, match="device npu is not usable here; missing: .*paddle-custom-npu"):
            device.require_device("npu")


def test_npu_preflight_with_cann_env_wants_only_the_plugin(device):
    problems = device.npu_problems(environ={"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/ascend-toolkit/latest"})
    assert not any("CANN" in p for p in problems)
    assert any("paddle-custom-npu" in p for p in problems) is not NPU_HOST


def test_unloaded_custom_plugin_is_named(device):
    with pytest.raises(device.DeviceUnavailable, match="no zzz plugin loaded"):
        device.require_device("custom:zzz")


def test_cpu_needs_nothing_and_gpu_is_checked(device):
    import paddle

    assert device.require_device("cpu").kind == "cpu"
    if not paddle.device.is_compiled_with_cuda():
        with pytest.raises(device.DeviceUnavailable, match="CPU-only"):
            device.require_device("gpu")
        return
    count = paddle.device.cuda.device_count()
    if count:
        assert device.require_device("gpu:0").kind == "gpu"
    # one past the last visible GPU is refused, naming how many there are
    with pytest.raises(device.DeviceUnavailable, match=rf"gpu:{count} \(visible GPUs: {count}\)"):
        device.require_device(f"gpu:{count}")


def test_resolve_exits_with_one_line_instead_of_falling_back(device, tmp_path):
    # what parse_args in the patched tree does with --device npu (and with the old --use_npu=True)
    script = tmp_path / "resolve.py"
    script.write_text(
        "import argparse, sys\n"
        f"sys.path.insert(0, {str(tmp_path.parent)!r})\n"
        "import importlib.util as u\n"
        f"s = u.spec_from_file_location('d', {device.__file__!r}); d = u.module_from_spec(s); s.loader.exec_module(d)\n"
        "d.resolve(argparse.Namespace(device=None, use_npu=True, use_gpu=True))\n"
        "print('fell back')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASCEND_")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "fell back" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    # without the CANN environment the NPU is unusable even where the plugin is installed
    assert len(lines) == 1 and "ASCEND_TOOLKIT_HOME" in lines[0] and "Traceback" not in proc.stderr
    assert ("paddle-custom-npu" in lines[0]) is not NPU_HOST


def test_resolve_points_every_predictor_at_the_device(device):
    import argparse

    args = device.resolve(argparse.Namespace(device="cpu", use_gpu=True, use_npu=True, use_xpu=True, use_mlu=False))
    assert (args.use_gpu, args.use_npu, args.use_xpu, args.use_mlu) == (False, False, False, False)
    assert device.custom_device_type(args) is None
