"""Tiny checkpoints of every Hugging Face VLM family, built from configs alone (no downloads).

Each builder makes a seeded random model of a few hundred thousand parameters, a word-level
tokenizer written here (with the family's own special tokens), the family's real image
processor and processor class, and a chat template in the family's own format. ``build(family,
out_dir)`` saves them with ``save_pretrained`` so tests load them back through the adapter's
normal AutoProcessor / AutoModelForImageTextToText path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.models.tiny_llava import build_processor as build_llava_processor
from tests.models.tiny_parts import (
    INIT,
    chat_template,
    clip,
    gemma_text,
    llama,
    qwen2,
    siglip,
    text_kwargs,
    token_ids,
    tokenizer,
)

LLAMA_CHAT = dict(image="<image>\n", user="USER: ", end=" ", assistant="ASSISTANT:")

# ---- one builder per family: (processor, model) ----------------------------------------------


def llava():
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    proc = build_llava_processor()
    cfg = LlavaConfig(
        vision_config=clip(), text_config=llama(len(proc.tokenizer)),
        image_token_id=proc.tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-2,
    )
    return proc, LlavaForConditionalGeneration(cfg)


def llava_next():
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    tok = tokenizer(["<image>"], image_token="<image>")
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    ip = LlavaNextImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints
    )
    proc = LlavaNextProcessor(
        image_processor=ip, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
        chat_template=chat_template(**LLAMA_CHAT), num_additional_image_tokens=1,
    )
    cfg = LlavaNextConfig(
        vision_config=clip(), text_config=llama(len(tok)), image_token_id=token_ids(tok, "<image>")["<image>"],
        image_grid_pinpoints=pinpoints, vision_feature_select_strategy="default", vision_feature_layer=-2,
    )
    return proc, LlavaNextForConditionalGeneration(cfg)


def llava_onevision():
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tok = tokenizer(["<image>", "<video>"], image_token="<image>", video_token="<video>")
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    ip = LlavaOnevisionImageProcessor(size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints)
    proc = LlavaOnevisionProcessor(
        image_processor=ip, tokenizer=tok, video_processor=LlavaOnevisionVideoProcessor(), num_image_tokens=16, vision_feature_select_strategy="full",
        chat_template=chat_template(image="<image>\n", user="<|im_start|>user ", end="<|im_end|>",
                                    assistant="<|im_start|>assistant\n"),
    )
    cfg = LlavaOnevisionConfig(
        vision_config=siglip(), text_config=qwen2(len(tok)), image_token_id=token_ids(tok, "<image>")["<image>"],
        video_token_id=token_ids(tok, "<video>")["<video>"], image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full", vision_feature_layer=-1,
    )
    return proc, LlavaOnevisionForConditionalGeneration(cfg)


QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
QWEN_CHAT = dict(
    image="<|vision_start|><|image_pad|><|vision_end|>", user="<|im_start|>user\n", end="<|im_end|>\n",
    assistant="<|im_start|>assistant\n",
)


def _qwen_tok():
    return tokenizer(QWEN_SPECIALS, bos=False, image_token="<|image_pad|>", video_token="<|video_pad|>")


def _qwen_ids(tok) -> dict[str, int]:
    i = token_ids(tok, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    return dict(
        image_token_id=i["<|image_pad|>"], video_token_id=i["<|video_pad|>"],
        vision_start_token_id=i["<|vision_start|>"], vision_end_token_id=i["<|vision_end|>"],
    )


def _qwen_proc(proc_cls, ip_cls, vp_cls, tok, patch: int = 4):
    ip = ip_cls(
        patch_size=patch, merge_size=2, temporal_patch_size=2,
        size={"shortest_edge": 8 * 8 * patch * patch // 4, "longest_edge": 16 * 16 * patch * patch},
    )
    return proc_cls(image_processor=ip, tokenizer=tok, video_processor=vp_cls(),
                    chat_template=chat_template(**QWEN_CHAT))


def qwen2_vl():
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tok = _qwen_tok()
    proc = _qwen_proc(Qwen2VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor, tok)
    text = text_kwargs(len(tok))
    text.update(rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0})
    cfg = Qwen2VLConfig(
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=4,
                           spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        text_config=text, **_qwen_ids(tok),
    )
    return proc, Qwen2VLForConditionalGeneration(cfg)


def qwen2_5_vl():
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tok = _qwen_tok()
    proc = _qwen_proc(Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor, tok)
    text = text_kwargs(len(tok))
    text.update(rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0})
    cfg = Qwen2_5_VLConfig(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=4, spatial_merge_size=2, temporal_patch_size=2, window_size=16,
                           fullatt_block_indexes=[1], in_channels=3),
        text_config=text, **_qwen_ids(tok),
    )
    return proc, Qwen2_5_VLForConditionalGeneration(cfg)


def _qwen3(config_cls, model_cls, **text_extra):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    tok = _qwen_tok()
    proc = _qwen_proc(Qwen3VLProcessor, Qwen2VLImageProcessor, Qwen3VLVideoProcessor, tok)
    text = text_kwargs(len(tok))
    text.update(rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True,
                                 "rope_theta": 10000.0}, **text_extra)
    cfg = config_cls(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=4, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=64,
                           deepstack_visual_indexes=[0], in_channels=3),
        text_config=text, **_qwen_ids(tok),
    )
    return proc, model_cls(cfg)


def qwen3_vl():
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    return _qwen3(Qwen3VLConfig, Qwen3VLForConditionalGeneration)


def qwen3_vl_moe():
    from transformers import Qwen3VLMoeConfig, Qwen3VLMoeForConditionalGeneration

    return _qwen3(Qwen3VLMoeConfig, Qwen3VLMoeForConditionalGeneration, num_experts=4, num_experts_per_tok=2,
                  moe_intermediate_size=32)


IDEFICS_SPECIALS = ["<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>"] + [
    f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)
]
IDEFICS_CHAT = dict(image="<image>", user="User:", end="<end_of_utterance>\n", assistant="Assistant:", bos="<s>")


def _idefics_vision():
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                image_size=32, patch_size=8)


def idefics3():
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    tok = tokenizer(IDEFICS_SPECIALS, bos=False, image_token="<image>")
    ip = Idefics3ImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=True)
    proc = Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=4,
                             chat_template=chat_template(**IDEFICS_CHAT))
    cfg = Idefics3Config(vision_config=_idefics_vision(), text_config=llama(len(tok)).to_dict(), scale_factor=2,
                         image_token_id=token_ids(tok, "<image>")["<image>"])
    return proc, Idefics3ForConditionalGeneration(cfg)


def smolvlm():
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )

    tok = tokenizer(IDEFICS_SPECIALS, bos=False, image_token="<image>")
    ip = SmolVLMImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=True)
    proc = SmolVLMProcessor(image_processor=ip, tokenizer=tok, video_processor=SmolVLMVideoProcessor(),
                            image_seq_len=4, chat_template=chat_template(**IDEFICS_CHAT))
    cfg = SmolVLMConfig(vision_config=_idefics_vision(), text_config=llama(len(tok)).to_dict(), scale_factor=2,
                        image_token_id=token_ids(tok, "<image>")["<image>"])
    return proc, SmolVLMForConditionalGeneration(cfg)


def paligemma():
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
    )

    tok = tokenizer(["<image>"], bos=False, image_token="<image>")
    ip = SiglipImageProcessor(size={"height": 32, "width": 32})
    ip.image_seq_length = 16
    proc = PaliGemmaProcessor(image_processor=ip, tokenizer=tok)  # no chat template: PaliGemma has none
    cfg = PaliGemmaConfig(
        vision_config=siglip(projection_dim=64), text_config=gemma_text(len(tok), GemmaConfig),
        image_token_id=token_ids(tok, "<image>")["<image>"], projection_dim=64,
    )
    cfg.vision_config.projection_dim = 64
    return proc, PaliGemmaForConditionalGeneration(cfg)


def gemma3():
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        Gemma3TextConfig,
    )

    specials = ["<start_of_image>", "<end_of_image>", "<image_soft_token>", "<start_of_turn>", "<end_of_turn>"]
    tok = tokenizer(specials, boi_token="<start_of_image>", eoi_token="<end_of_image>",
                    image_token="<image_soft_token>")
    ip = Gemma3ImageProcessor(size={"height": 32, "width": 32})
    proc = Gemma3Processor(
        image_processor=ip, tokenizer=tok, image_seq_length=4,
        chat_template=chat_template(image="<start_of_image>", user="<start_of_turn>user\n", end="<end_of_turn>\n",
                                    assistant="<start_of_turn>model\n"),
    )
    ids = token_ids(tok, *specials)
    cfg = Gemma3Config(
        vision_config=siglip(), text_config=gemma_text(len(tok), Gemma3TextConfig), mm_tokens_per_image=4,
        image_token_id=ids["<image_soft_token>"], boi_token_id=ids["<start_of_image>"],
        eoi_token_id=ids["<end_of_image>"],
    )
    model = Gemma3ForConditionalGeneration(cfg)
    # Gemma scales embeddings by sqrt(hidden) and normalises every sub-layer's output: smaller
    # token embeddings keep the last token from deciding every greedy answer.
    model.model.language_model.embed_tokens.weight.data.mul_(0.5)
    return proc, model


def mllama():
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaImageProcessor,
        MllamaProcessor,
    )

    specials = ["<|image|>", "<|python_tag|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = tokenizer(specials, image_token="<|image|>")
    ip = MllamaImageProcessor(size={"height": 32, "width": 32}, max_image_tiles=2)
    proc = MllamaProcessor(
        image_processor=ip, tokenizer=tok,
        chat_template=chat_template(image="<|image|>", user="<|start_header_id|>user<|end_header_id|>\n",
                                    end="<|eot_id|>", assistant="<|start_header_id|>assistant<|end_header_id|>\n"),
    )
    text = text_kwargs(len(tok) + 8)
    text.pop("head_dim")
    text.update(cross_attention_layers=[1], num_hidden_layers=2, rope_parameters={"rope_type": "default",
                                                                                   "rope_theta": 10000.0})
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1,
                  attention_heads=2, image_size=32, patch_size=8, max_num_tiles=2, vision_output_dim=64,
                  intermediate_layers_indices=[0], supported_aspect_ratios=[[1, 1], [1, 2], [2, 1]])
    cfg = MllamaConfig(vision_config=vision, text_config=text, image_token_index=token_ids(tok, "<|image|>")["<|image|>"])
    return proc, MllamaForConditionalGeneration(cfg)


def internvl():
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    specials = ["<img>", "</img>", "<IMG_CONTEXT>", "<video>", "<|im_start|>", "<|im_end|>"]
    tok = tokenizer(specials, bos=False, start_image_token="<img>", end_image_token="</img>",
                    context_image_token="<IMG_CONTEXT>", video_token="<video>")
    ip = GotOcr2ImageProcessor(size={"height": 32, "width": 32}, crop_to_patches=True, min_patches=1, max_patches=3)
    proc = InternVLProcessor(
        image_processor=ip, tokenizer=tok, video_processor=InternVLVideoProcessor(), image_seq_length=4,
        chat_template=chat_template(image="<IMG_CONTEXT>\n", user="<|im_start|>user\n", end="<|im_end|>\n",
                                    assistant="<|im_start|>assistant\n"),
    )
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=[32, 32], patch_size=[8, 8])
    cfg = InternVLConfig(vision_config=vision, text_config=qwen2(len(tok)).to_dict(), downsample_ratio=0.5,
                         image_token_id=token_ids(tok, "<IMG_CONTEXT>")["<IMG_CONTEXT>"])
    return proc, InternVLForConditionalGeneration(cfg)


def aya_vision():
    from transformers import (
        AyaVisionConfig,
        AyaVisionForConditionalGeneration,
        AyaVisionProcessor,
        CohereConfig,
        GotOcr2ImageProcessor,
    )

    specials = ["<image>", "<|START_OF_IMG|>", "<|END_OF_IMG|>", "<|IMG_PATCH|>", "<|IMG_LINE_BREAK|>",
                "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>"]
    tok = tokenizer(specials, image_token="<image>")
    ip = GotOcr2ImageProcessor(size={"height": 32, "width": 32}, crop_to_patches=True, min_patches=1, max_patches=3)
    proc = AyaVisionProcessor(
        image_processor=ip, tokenizer=tok, patch_size=8, img_size=32, downsample_factor=2,
        chat_template=chat_template(image="<image>", user="<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
                                    end="<|END_OF_TURN_TOKEN|>",
                                    assistant="<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"),
    )
    text = text_kwargs(len(tok))
    text.pop("head_dim")
    cfg = AyaVisionConfig(
        vision_config=siglip(), text_config=CohereConfig(**text).to_dict(), downsample_factor=2,
        image_token_id=token_ids(tok, "<|IMG_PATCH|>")["<|IMG_PATCH|>"], adapter_layer_norm_eps=1e-6,
        vision_feature_select_strategy="full", vision_feature_layer=-1,
    )
    return proc, AyaVisionForConditionalGeneration(cfg)


def mistral3():
    from transformers import (
        Mistral3Config,
        Mistral3ForConditionalGeneration,
        MistralConfig,
        PixtralImageProcessor,
        PixtralProcessor,
    )

    specials = ["[IMG]", "[IMG_BREAK]", "[IMG_END]", "[INST]", "[/INST]"]
    tok = tokenizer(specials, image_token="[IMG]")
    ip = PixtralImageProcessor(size={"longest_edge": 32}, patch_size=4)
    proc = PixtralProcessor(
        image_processor=ip, tokenizer=tok, patch_size=4, spatial_merge_size=2,
        chat_template=chat_template(image="[IMG]", user="[INST]", end="[/INST]", assistant=""),
    )
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, head_dim=16,
                  image_size=32, patch_size=4)
    cfg = Mistral3Config(vision_config=vision, text_config=MistralConfig(**text_kwargs(len(tok))).to_dict(),
                         spatial_merge_size=2, image_token_id=token_ids(tok, "[IMG]")["[IMG]"],
                         vision_feature_layer=-1)
    return proc, Mistral3ForConditionalGeneration(cfg)


def llava_next_video():
    from transformers import (
        LlavaNextImageProcessor,
        LlavaNextVideoConfig,
        LlavaNextVideoForConditionalGeneration,
        LlavaNextVideoProcessor,
        LlavaNextVideoVideoProcessor,
    )

    tok = tokenizer(["<image>", "<video>"], image_token="<image>", video_token="<video>")
    pinpoints = [[32, 32], [32, 64], [64, 32]]
    ip = LlavaNextImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints
    )
    proc = LlavaNextVideoProcessor(
        video_processor=LlavaNextVideoVideoProcessor(), image_processor=ip, tokenizer=tok, patch_size=8,
        vision_feature_select_strategy="default", chat_template=chat_template(**LLAMA_CHAT),
        num_additional_image_tokens=1,
    )
    ids = token_ids(tok, "<image>", "<video>")
    cfg = LlavaNextVideoConfig(
        vision_config=clip(), text_config=llama(len(tok)), image_token_id=ids["<image>"],
        video_token_id=ids["<video>"], image_grid_pinpoints=pinpoints, vision_feature_select_strategy="default",
        vision_feature_layer=-2, spatial_pool_stride=2,
    )
    return proc, LlavaNextVideoForConditionalGeneration(cfg)


def idefics2():
    from transformers import (
        Idefics2Config,
        Idefics2ForConditionalGeneration,
        Idefics2ImageProcessor,
        Idefics2Processor,
    )

    tok = tokenizer(IDEFICS_SPECIALS, bos=False, image_token="<image>", image_boundary_token="<fake_token_around_image>")
    ip = Idefics2ImageProcessor(size={"shortest_edge": 32, "longest_edge": 32}, do_image_splitting=False)
    proc = Idefics2Processor(image_processor=ip, tokenizer=tok, image_seq_len=4,
                             chat_template=chat_template(**IDEFICS_CHAT))
    perceiver = dict(hidden_size=64, rms_norm_eps=1e-6, hidden_act="silu", resampler_n_latents=4, resampler_depth=1, resampler_n_heads=2,
                     resampler_head_dim=16, num_key_value_heads=1)
    cfg = Idefics2Config(vision_config=_idefics_vision(), perceiver_config=perceiver,
                         text_config=llama(len(tok)).to_dict(), image_token_id=token_ids(tok, "<image>")["<image>"])
    return proc, Idefics2ForConditionalGeneration(cfg)


def _glm4v(config_cls, model_cls, **text_extra):
    from transformers import Glm4vImageProcessor, Glm4vProcessor, Glm4vVideoProcessor

    specials = ["<|user|>", "<|assistant|>", "<|begin_of_image|>", "<|end_of_image|>", "<|image|>",
                "<|begin_of_video|>", "<|end_of_video|>", "<|video|>"]
    tok = tokenizer(specials, bos=False, image_token="<|image|>", video_token="<|video|>")
    ip = Glm4vImageProcessor(patch_size=4, merge_size=2, temporal_patch_size=2,
                             size={"shortest_edge": 16 * 16, "longest_edge": 64 * 64})
    proc = Glm4vProcessor(
        image_processor=ip, tokenizer=tok, video_processor=Glm4vVideoProcessor(),
        chat_template=chat_template(image="<|begin_of_image|><|image|><|end_of_image|>", user="<|user|>\n",
                                    end="", assistant="<|assistant|>\n"),
    )
    ids = token_ids(tok, *specials)
    text = text_kwargs(len(tok))
    text.update(rope_parameters={"rope_type": "default", "mrope_section": [2, 1, 1], "rope_theta": 10000.0,
                                 "partial_rotary_factor": 0.5}, **text_extra)
    vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=4,
                  spatial_merge_size=2, temporal_patch_size=2, image_size=32)
    cfg = config_cls(
        text_config=text, vision_config=vision, image_token_id=ids["<|image|>"], video_token_id=ids["<|video|>"],
        image_start_token_id=ids["<|begin_of_image|>"], image_end_token_id=ids["<|end_of_image|>"],
        video_start_token_id=ids["<|begin_of_video|>"], video_end_token_id=ids["<|end_of_video|>"],
    )
    return proc, model_cls(cfg)


def glm4v():
    from transformers import Glm4vConfig, Glm4vForConditionalGeneration

    return _glm4v(Glm4vConfig, Glm4vForConditionalGeneration)


def glm4v_moe():
    from transformers import Glm4vMoeConfig, Glm4vMoeForConditionalGeneration

    return _glm4v(Glm4vMoeConfig, Glm4vMoeForConditionalGeneration, n_routed_experts=4, num_experts_per_tok=2,
                  moe_intermediate_size=32, first_k_dense_replace=1)


def cohere2_vision():
    from transformers import (
        Cohere2Config,
        Cohere2VisionConfig,
        Cohere2VisionForConditionalGeneration,
        Cohere2VisionImageProcessor,
        Cohere2VisionProcessor,
    )

    specials = ["<|START_OF_IMG|>", "<|END_OF_IMG|>", "<|IMG_PATCH|>", "<|IMG_LINE_BREAK|>",
                "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>"]
    tok = tokenizer(specials, boi_token="<|START_OF_IMG|>", eoi_token="<|END_OF_IMG|>",
                    image_token="<|IMG_PATCH|>", img_line_break_token="<|IMG_LINE_BREAK|>")
    ip = Cohere2VisionImageProcessor(size={"height": 32, "width": 32}, patch_size=2, max_patches=3)
    proc = Cohere2VisionProcessor(
        image_processor=ip, tokenizer=tok,
        chat_template=chat_template(image="<|IMG_PATCH|>", user="<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
                                    end="<|END_OF_TURN_TOKEN|>", assistant="<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"),
    )
    text = text_kwargs(len(tok))
    cfg = Cohere2VisionConfig(
        vision_config=siglip(), text_config=Cohere2Config(**text).to_dict(), downsample_factor=2,
        image_token_id=token_ids(tok, "<|IMG_PATCH|>")["<|IMG_PATCH|>"], alignment_intermediate_size=64,
    )
    return proc, Cohere2VisionForConditionalGeneration(cfg)


def deepseek_vl():
    from transformers import (
        DeepseekVLConfig,
        DeepseekVLForConditionalGeneration,
        DeepseekVLImageProcessor,
        DeepseekVLProcessor,
    )

    specials = ["<image_placeholder>"]
    tok = tokenizer(specials, image_token="<image_placeholder>")
    ip = DeepseekVLImageProcessor(size={"height": 32, "width": 32})
    proc = DeepseekVLProcessor(
        image_processor=ip, tokenizer=tok, num_image_tokens=16,
        chat_template=chat_template(image="<image_placeholder>", user="User: ", end="\n\n", assistant="Assistant:"),
    )
    cfg = DeepseekVLConfig(
        vision_config=siglip().to_dict(), text_config=llama(len(tok)).to_dict(),
        image_token_id=token_ids(tok, "<image_placeholder>")["<image_placeholder>"],
    )
    cfg.vision_config.model_type = "siglip_vision_model"
    return proc, DeepseekVLForConditionalGeneration(cfg)


def paddleocr_vl():
    from transformers import (
        PaddleOCRVLConfig,
        PaddleOCRVLForConditionalGeneration,
        PaddleOCRVLImageProcessor,
        PaddleOCRVLProcessor,
    )

    specials = ["<|IMAGE_START|>", "<|IMAGE_PLACEHOLDER|>", "<|IMAGE_END|>", "<|video_pad|>"]
    tok = tokenizer(specials, image_token="<|IMAGE_PLACEHOLDER|>")
    ip = PaddleOCRVLImageProcessor(patch_size=4, merge_size=2, temporal_patch_size=1,
                                   size={"shortest_edge": 16 * 16, "longest_edge": 64 * 64})
    proc = PaddleOCRVLProcessor(
        image_processor=ip, tokenizer=tok,
        chat_template=chat_template(image="<|IMAGE_START|><|IMAGE_PLACEHOLDER|><|IMAGE_END|>", user="User: ",
                                    end="\n", assistant="Assistant: "),
    )
    ids = token_ids(tok, *specials)
    text = text_kwargs(len(tok))
    text.update(rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0})
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                  patch_size=4, spatial_merge_size=2)
    cfg = PaddleOCRVLConfig(
        text_config=text, vision_config=vision, image_token_id=ids["<|IMAGE_PLACEHOLDER|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|IMAGE_START|>"],
        vision_end_token_id=ids["<|IMAGE_END|>"],
    )
    return proc, PaddleOCRVLForConditionalGeneration(cfg)


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {
    f.__name__: f
    for f in (llava, llava_next, llava_onevision, qwen2_vl, qwen2_5_vl, qwen3_vl, idefics3, smolvlm, paligemma,
              gemma3, mllama, internvl, aya_vision, mistral3, llava_next_video, idefics2, glm4v, cohere2_vision, qwen3_vl_moe, glm4v_moe,
              deepseek_vl, paddleocr_vl)
}
FAMILIES = tuple(BUILDERS)


def build(family: str, out_dir: Path, seed: int = 0) -> Path:
    """Build one family's tiny model + processor (seeded) and save both to ``out_dir``."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    proc, model = BUILDERS[family]()
    with torch.no_grad():  # zero-initialised projections (Gemma 3's) would make the model image-blind
        for p in model.parameters():
            if p.ndim >= 2 and not p.any():
                p.normal_(0.0, INIT)
    model.eval()
    gen = model.generation_config
    gen.bos_token_id, gen.eos_token_id, gen.pad_token_id = 1, 2, 3
    model.save_pretrained(out_dir)
    proc.save_pretrained(out_dir)
    return out_dir
