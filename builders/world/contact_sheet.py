"""A PNG grid of sample images per domain with captions, so a person can see the world at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .draw import render
from .files import save_image

SCALE = 3
TILE = 64 * SCALE
CAPTION_H = 58
LABEL_W = 130
COLUMNS = 8


def _caption(entry: dict) -> str:
    sc = entry["scene"]
    if "label" in entry:
        if sc["domain"] == "rendition":
            return f"{sc['style']}: {entry['label']}"
        if sc["domain"] == "adversarial":
            return f"{entry['label']} ({', '.join(sc['effects'].get('kinds', []))})"
        return entry["label"]
    if "question" in entry:
        return f"{entry['detail']}: {entry['value']}"
    from .language import detailed_caption

    return detailed_caption(sc)


def _rows(sidecars: dict[str, list[dict]]) -> list[tuple[str, list[dict]]]:
    def spread(items: list[dict], n: int) -> list[dict]:
        if len(items) <= n:
            return items
        step = len(items) / n
        return [items[int(k * step)] for k in range(n)]

    rendition = sidecars.get("imagenet_r", [])
    by_style: dict[str, list[dict]] = {}
    for e in rendition:
        by_style.setdefault(e["scene"]["style"], []).append(e)
    mixed = [e for pair in zip(*[spread(v, COLUMNS // 4 or 1) for v in by_style.values()], strict=False) for e in pair]
    return [
        ("photo (train)", spread(sidecars.get("train", []), COLUMNS)),
        ("rendition", mixed[:COLUMNS]),
        ("adversarial", spread(sidecars.get("imagenet_a", []), COLUMNS)),
        ("resampled", spread(sidecars.get("imagenet_v2", []), COLUMNS)),
        ("MMVP pairs", sidecars.get("mmvp", [])[:COLUMNS]),
    ]


def write_contact_sheet(sidecars: dict[str, list[dict]], path: Path) -> None:
    rows = _rows(sidecars)
    width = LABEL_W + COLUMNS * (TILE + 6)
    height = len(rows) * (TILE + CAPTION_H + 10) + 10
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    label_font = ImageFont.load_default(size=15)
    for r, (label, entries) in enumerate(rows):
        y = 10 + r * (TILE + CAPTION_H + 10)
        d.text((8, y + TILE // 2 - 8), label, fill=(0, 0, 0), font=label_font)
        for c, entry in enumerate(entries):
            x = LABEL_W + c * (TILE + 6)
            img = render(entry["scene"]).resize((TILE, TILE), Image.Resampling.NEAREST)
            sheet.paste(img, (x, y))
            lines = textwrap.wrap(_caption(entry), width=30)[:4]
            d.multiline_text((x, y + TILE + 2), "\n".join(lines), fill=(20, 20, 20), font=font, spacing=1)
    save_image(sheet, path)
