"""Patch 0011 through upstream's real scripts: a precision the CPU cannot run stops
predict_structure.py and export_model.py with one line, before any model is loaded or written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.upstream


def run(tree, *argv):
    return subprocess.run([sys.executable, *argv], cwd=tree, capture_output=True, text=True, timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_fp16_on_the_cpu_stops_predict_structure_before_loading(patched_tree, slanet_plus_dir, tmp_path):
    out = tmp_path / "out"
    proc = run(patched_tree, "ppstructure/table/predict_structure.py", f"--table_model_dir={slanet_plus_dir}",
               "--table_char_dict_path=ppocr/utils/dict/table_structure_dict_ch.txt",
               "--image_dir=ppstructure/docs/table/table.jpg", f"--output={out}", "--device=cpu",
               "--precision=fp16")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc.stderr) == [
        "error: --precision fp16: fp16 cannot run on the CPU (Paddle Inference has no CPU fp16 kernels): "
        "use fp32, or bf16 on a CPU with avx512_bf16"]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_amp_export_on_a_cpu_only_paddle_writes_nothing(patched_tree, tmp_path):
    import paddle

    can_convert = paddle.device.is_compiled_with_cuda() or bool(paddle.device.get_all_custom_device_type())
    out = tmp_path / "export"
    proc = run(patched_tree, "tools/export_model.py", "-c", "configs/table/SLANet_ch_npu.yml", "-o",
               "Global.use_amp=True", f"Global.save_inference_dir={out}", f"Global.pretrained_model={tmp_path}/none")
    if can_convert:  # a CUDA or plugin build converts: it gets past the AMP check (to the absent weights)
        assert "Global.use_amp needs" not in proc.stderr
        return
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "Global.use_amp needs a Paddle built with CUDA" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("api", ["PaddleOCR", "PPStructure"])
def test_fp16_on_the_cpu_stops_the_python_api_before_loading(patched_tree, api):
    """PaddleOCR(precision=...) and PPStructure(precision=...) check the precision as the scripts do:
    fp16 on a CPU is refused in one line instead of running fp32 while asked for fp16."""
    code = f"from paddleocr import {api}\n{api}(precision='fp16', device='cpu', show_log=False)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=patched_tree, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(patched_tree)})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc.stderr) == [
        "error: --precision fp16: fp16 cannot run on the CPU (Paddle Inference has no CPU fp16 kernels): "
        "use fp32, or bf16 on a CPU with avx512_bf16"]
