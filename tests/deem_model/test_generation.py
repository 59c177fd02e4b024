import numpy as np
import pytest
import torch
from PIL import Image

from deem_model.generation import encode_images, generate_images, generate_text, score_options


@pytest.fixture(scope="module")
def model_and_images(tokenizer, world_dir):
    from deem_model.build import build_model
    from deem_model.config import get_preset

    torch.manual_seed(1)
    model = build_model(get_preset("micro"), tokenizer=tokenizer).eval()
    images = [Image.open(world_dir / "train" / "images" / f"{i:05d}.png") for i in range(8)]
    return model, images


PROMPTS = [
    "<image>Is there a circle in the image?",
    "Based on the image, please answer the question. <image>Is there a red square? Please answer yes or no.",
    "<image>What",
    "Describe the image briefly. <image>",
    "<image>a",
    "A long prompt with many words so that padding differs a lot between rows <image> of this batch",
    "<image>Is there a blue circle in the image?",
    "<image>green",
]


def test_batch_of_8_equals_one_at_a_time_with_left_padding(model_and_images):
    model, images = model_and_images
    for beams in (1, 2):
        b8 = generate_text(model, PROMPTS, images=images, max_new_tokens=6, num_beams=beams, batch_size=8)
        b1 = generate_text(model, PROMPTS, images=images, max_new_tokens=6, num_beams=beams, batch_size=1)
        assert b8 == b1
    s8 = score_options(model, PROMPTS, [["yes", "no"]] * 8, images=images, answer_prefixes=["The answer is"] * 8)
    s1 = score_options(model, PROMPTS, [["yes", "no"]] * 8, images=images, answer_prefixes=["The answer is"] * 8,
                       batch_size=1)
    assert np.allclose(s8, s1, atol=1e-4)


def test_features_give_the_same_answers_as_images(model_and_images):
    model, images = model_and_images
    feats = encode_images(model, images)
    assert feats[0].shape == (model.cfg.num_image_tokens, model.mm_decoder.hidden_size)
    a = generate_text(model, PROMPTS, images=images, max_new_tokens=4)
    b = generate_text(model, PROMPTS, features=feats, max_new_tokens=4)
    assert a == b
    with pytest.raises(ValueError, match="markers"):
        generate_text(model, ["no image here"], features=[feats[0]])


def test_multi_token_option_scores_are_sums_of_token_log_probs(model_and_images):
    model, images = model_and_images
    prompt = "<image>What is it?"
    opts = ["a red circle", "no"]
    [scores] = score_options(model, [prompt], [opts], images=images[:1])
    # by hand: the log-probability of each token of "a red circle" after the prompt, one at a time
    feats = encode_images(model, images[:1])
    total = 0.0
    ctx = prompt
    for word in opts[0].split():
        [[lp]] = score_options(model, [ctx], [[word]], features=feats)
        total += lp
        ctx = ctx + " " + word
    assert scores[0] == pytest.approx(total, abs=1e-4)
    [[single]] = score_options(model, [prompt], [["no"]], images=images[:1])
    assert scores[1] == pytest.approx(single, abs=1e-5)


def test_generation_stops_at_soi(model_and_images):
    model, images = model_and_images
    bias = torch.zeros(len(model.tokenizer))
    bias[model.ids["soi"]] = 1e4  # make SoI the most likely next token everywhere
    head = model.mm_decoder.llm.get_output_embeddings()
    handle = head.register_forward_hook(lambda _m, _i, out: out + bias)
    try:
        assert generate_text(model, PROMPTS[:2], images=images[:2], max_new_tokens=5) == ["", ""]
    finally:
        handle.remove()


def test_image_generation_is_seeded(model_and_images):
    model, _ = model_and_images
    prompts = ["a red circle", "a blue square", "a green circle"]
    a = generate_images(model, prompts, seed=5, steps=3)
    again = generate_images(model, prompts, seed=5, steps=3)
    c = generate_images(model, prompts, seed=6, steps=3)
    assert all(isinstance(im, Image.Image) and im.size == (32, 32) for im in a)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, again, strict=True))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(c[0]))
    # each image has its own seeded noise, so splitting the batch changes it only by float rounding
    b = generate_images(model, prompts, seed=5, steps=3, batch_size=1)
    for x, y in zip(a, b, strict=True):
        assert np.abs(np.asarray(x, dtype=int) - np.asarray(y, dtype=int)).max() <= 2
    d = generate_images(model, prompts[:1], seed=5, steps=3, sampler="ddpm")
    assert d[0].size == (32, 32)
