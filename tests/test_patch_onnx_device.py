"""The --use_onnx provider patch (0007), run for real on this host: onnxruntime here has no
CANN provider and there is no CANN toolkit, so --device npu must be refused, naming both."""

import sys

import onnxruntime
import pytest

from npu_overlay.engine.patch_files import extract, load_module


@pytest.fixture(scope="module")
def onnx_device(tmp_path_factory):
    dest = tmp_path_factory.mktemp("onnx_device")
    device = load_module(extract("tools/infer/device.py", dest), "infer_device")
    # the new module imports upstream's tools.infer.device, which exists only in an upstream tree:
    # give it the series' own copy
    saved = sys.modules.get("tools.infer.device")
    sys.modules["tools.infer.device"] = device
    try:
        return load_module(extract("tools/infer/onnx_device.py", dest), "infer_onnx_device")
    finally:
        if saved is None:
            sys.modules.pop("tools.infer.device", None)
        else:
            sys.modules["tools.infer.device"] = saved


class Args:
    def __init__(self, **kw):
        self.device, self.use_gpu, self.gpu_id, self.custom_device_id = None, False, 0, 0
        self.__dict__.update(kw)


def test_npu_is_refused_without_the_cann_provider(onnx_device):
    if "CANNExecutionProvider" in onnxruntime.get_available_providers():
        # an onnxruntime-cann host: with the toolkit's environment, nothing about the provider is missing
        problems = onnx_device.provider_problems(onnx_device.parse_device("npu"), environ={"ASCEND_HOME_PATH": "/x"})
        assert not any("CANNExecutionProvider" in p for p in problems), problems
        return
    with pytest.raises(onnx_device.DeviceUnavailable) as refused:
        onnx_device.require_provider("npu:1")
    text = str(refused.value)
    assert text.startswith("device npu:1 is not usable with --use_onnx here")
    assert "CANNExecutionProvider" in text and "onnxruntime-cann" in text
    assert "CPUExecutionProvider" in text  # what this onnxruntime has instead
    assert onnx_device.provider_problems(onnx_device.parse_device("npu"), environ={"ASCEND_HOME_PATH": "/x"}) == \
        [p for p in onnx_device.provider_problems(onnx_device.parse_device("npu"), environ={}) if "CANN toolkit" not in p]


def test_cpu_needs_nothing_and_custom_devices_have_no_provider(onnx_device):
    assert onnx_device.require_provider("cpu").kind == "cpu"
    with pytest.raises(onnx_device.DeviceUnavailable, match="custom:mlu has no onnxruntime provider"):
        onnx_device.require_provider("custom:mlu")


def test_session_providers_follow_the_device(onnx_device):
    assert onnx_device.session_providers(Args(device="npu:2", custom_device_id=2)) == \
        [("CANNExecutionProvider", {"device_id": 2})]
    assert onnx_device.session_providers(Args(device="gpu:1", use_gpu=True, gpu_id=1)) == \
        [("CUDAExecutionProvider", {"device_id": 1, "cudnn_conv_algo_search": "DEFAULT"})]
    assert onnx_device.session_providers(Args(device="cpu")) == ["CPUExecutionProvider"]
