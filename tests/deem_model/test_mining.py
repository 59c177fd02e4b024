import torch

from deem_model.config import get_preset
from deem_model.mining import load_mining_model
from deem_model.train.jobs import MiningJob
from deem_model.train.loop import train


def test_mining_clip_trains_and_loads_through_open_clip(world_dir, tmp_path):
    cfg = get_preset("mining-vit")
    st = cfg.stages["clip"]
    st.batch_size, st.warmup_steps = 8, 1
    cfg.model_cfg["vision_cfg"].update(layers=1, width=64, head_width=32)
    cfg.model_cfg["text_cfg"].update(layers=1, width=32, heads=2)
    job = MiningJob(cfg, "clip", world_dir)
    summary = train(job, st, tmp_path / "m", 2, show_progress=False)
    assert set(summary["final_losses"]) == {"clip", "total"}
    assert (tmp_path / "m" / "open_clip_config.json").is_file()
    model, preprocess, tokenizer = load_mining_model(tmp_path / "m")
    ids = tokenizer(["a circle", "a square"])
    assert ids.shape == (2, 16)
    from PIL import Image

    img = preprocess(Image.open(world_dir / "train" / "images" / "00000.png"))[None]
    trained = job.model.clip.eval()
    with torch.no_grad():
        assert torch.allclose(model.encode_image(img), trained.encode_image(img), atol=1e-5)
        assert torch.allclose(model.encode_text(ids), trained.encode_text(ids), atol=1e-5)
