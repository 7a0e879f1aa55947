"""The rewritten table-head decoding (overlay patch 0001) against upstream's own export.

Reference: PaddleX's export of SLANet_plus, i.e. upstream's SLAHead decoding loop with real
weights. The export is run on real table images; the features it feeds its head and the
outputs it returns are compared with what our decoder (loaded from the patch) computes from
the same features with the same weights. Post-processing must see identical tokens and boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference_runner import run_with_head_input
from table_head_layers import load_static_decoder
from table_head_layers import SLAHeadLayers, decoded_tables
from npu_overlay.convert_weights import head_params
from npu_overlay.table_input import preprocess, read_image

TABLES = Path(__file__).resolve().parent / "data" / "tables"
SAMPLES = sorted(TABLES.glob("*.png"))
MAX_TEXT_LENGTH = 500  # SLANet_ch / SLANet_plus: 501 decode steps at most
PROB_ATOL = 1e-5
# Boxes agree to 1e-3 px at the model's 488-px input, i.e. 2e-6 of the image side. Larger
# images scale that up: upstream's own float32 box head is off from a float64 evaluation of
# the same hidden states by ~1e-6 of the side, so no float32 rewrite can promise a fixed
# fraction of a pixel on a 1000-px image.
BOX_ATOL_AT_INPUT_PX = 1e-3
INPUT_PX = 488


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    return load_static_decoder(tmp_path_factory.mktemp("decoder"))


@pytest.fixture(scope="module")
def weights(slanet_plus_dir):
    return head_params(slanet_plus_dir, "SLANet_ch")


def _reference(model_dir, images):
    batches, shapes = zip(*(preprocess(read_image(p)) for p in images))
    features, (loc, structure) = run_with_head_input(model_dir, np.concatenate(batches))
    return features, structure, loc, np.stack(shapes)


def _ours(decoder, weights, features, mode, unroll):
    import paddle

    head = SLAHeadLayers(decoder, weights, decoder.DecodeStrategy(mode, unroll), MAX_TEXT_LENGTH)
    n, c = features.shape[:2]
    fea = paddle.to_tensor(features).reshape([n, c, -1]).transpose([0, 2, 1])
    with paddle.no_grad():
        out = head(fea)
    return out["structure_probs"].numpy(), out["loc_preds"].numpy()


# the NPU configs' loop (early_stop, 8), a loop with a fixed trip count, a block size that
# does not divide the 501 steps, and the fully unrolled graph
MODES = [("early_stop", 8), ("fixed", 8), ("early_stop", 7), ("fixed", "all")]


@pytest.mark.parametrize("mode,unroll", MODES)
@pytest.mark.parametrize("image", SAMPLES, ids=lambda p: p.stem)
def test_single_image_matches_upstream(decoder, weights, slanet_plus_dir, image, mode, unroll):
    features, structure, loc, shapes = _reference(slanet_plus_dir, [image])
    ours_structure, ours_loc = _ours(decoder, weights, features, mode, unroll)
    # static shapes: every mode returns all max_text_length + 1 steps ...
    assert ours_structure.shape[1] == ours_loc.shape[1] == MAX_TEXT_LENGTH + 1
    _assert_same_result(structure, loc, ours_structure, ours_loc, shapes)
    # ... and every step after the one where upstream's loop stopped reads as end-of-sequence
    eos = ours_structure.shape[-1] - 1
    stopped = structure.shape[1]  # upstream's output ends at the step where its loop broke
    assert (ours_structure[0, stopped:].argmax(-1) == eos).all()


@pytest.mark.parametrize("mode,unroll", MODES)
def test_batch_of_different_lengths_matches_upstream(decoder, weights, slanet_plus_dir, mode, unroll):
    images = [TABLES / "small_6x3.png", TABLES / "large_22x9.png", TABLES / "merged_8x5.png"]
    features, structure, loc, shapes = _reference(slanet_plus_dir, images)
    lengths = [len(ids) for ids, _ in decoded_tables(structure, loc, shapes)]
    assert len(set(lengths)) == 3, f"the batch should mix sequence lengths, got {lengths}"
    ours_structure, ours_loc = _ours(decoder, weights, features, mode, unroll)
    _assert_same_result(structure, loc, ours_structure, ours_loc, shapes)


@pytest.mark.parametrize("mode,unroll", [("early_stop", "all"), ("sometimes", 8), ("fixed", 0), ("fixed", True)])
def test_bad_decode_strategy_is_refused_with_its_key(decoder, mode, unroll):
    with pytest.raises(ValueError, match="decode_(mode|unroll)"):
        decoder.DecodeStrategy(mode, unroll)


def _assert_same_result(structure, loc, ours_structure, ours_loc, shapes):
    reference = decoded_tables(structure, loc, shapes)
    ours = decoded_tables(ours_structure, ours_loc, shapes)
    for b, ((ids, boxes), (our_ids, our_boxes), shape) in enumerate(zip(reference, ours, shapes)):
        np.testing.assert_array_equal(our_ids, ids)
        atol = BOX_ATOL_AT_INPUT_PX * max(1.0, max(shape[:2]) / INPUT_PX)
        np.testing.assert_allclose(our_boxes, boxes, rtol=0, atol=atol)
        # raw outputs over the valid prefix, through end-of-sequence
        n = len(ids) + 1
        np.testing.assert_allclose(ours_structure[b, :n], structure[b, :n], rtol=0, atol=PROB_ATOL)
        np.testing.assert_allclose(ours_loc[b, :n], loc[b, :n], rtol=0, atol=PROB_ATOL)
