"""Images in a prompt: their size read from their own bytes, and the formulas OpenAI publishes."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from token_requests import image_bytes

from llmport.adapters.tokens import TiktokenCounter
from llmport.adapters.tokens.images import image_cost, image_size, image_tokens
from llmport.domain.models import ChatRequest, ImagePart, Message, TextPart


# The guide's own worked examples ("Images and vision", "Calculating costs").
@pytest.mark.parametrize(
    ("model", "detail", "size", "tokens"),
    [
        ("gpt-4o", "high", (1024, 1024), 765),
        ("gpt-4o", "high", (2048, 4096), 1105),
        ("gpt-4o", "low", (4096, 8192), 85),
        ("gpt-4.1-mini", "high", (1024, 1024), 1659),  # 1024 patches x 1.62, rounded up
        ("gpt-4.1-mini", "high", (1800, 2400), 2353),  # 1452 patches x 1.62
        ("gpt-4.1-nano", "auto", (1800, 2400), 3572),  # 1452 x 2.46
        ("o4-mini", "low", (1024, 1024), 1762),  # 1024 x 1.72: patches know no detail
        ("gpt-4o-mini", "low", (100, 100), 2833),
        ("gpt-4o-mini", "high", (1024, 1024), 2833 + 4 * 5667),
        ("gpt-5", "high", (512, 512), 70 + 140),
        ("o3", "high", (513, 512), 75 + 2 * 150),
        ("o1-2024-12-17", "low", (513, 512), 75),
        ("gpt-4o", "high", (64, 64), 85 + 170),  # small images are not scaled up
    ],
)
def test_the_published_examples(model: str, detail: str, size: tuple[int, int], tokens: int) -> None:
    assert image_tokens(model, detail, size) == tokens


def test_an_unknown_size_costs_the_worst_case_for_its_detail() -> None:
    assert image_tokens("gpt-4o", "high", None) == 85 + 8 * 170
    assert image_tokens("gpt-4o", "low", None) == 85
    assert image_tokens("gpt-4.1-mini", "high", None) == 2489  # 1536 patches x 1.62


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize("size", [(1, 1), (513, 300), (300, 2049), (4000, 300)])
def test_the_size_comes_from_the_image_header(kind: str, size: tuple[int, int]) -> None:
    data = image_bytes(*size, kind)
    assert image_size(ImagePart(data=data, media_type=f"image/{kind.lower()}")) == size
    url = f"data:image/{kind.lower()};base64,{base64.b64encode(data).decode()}"
    assert image_size(ImagePart(url=url)) == size


def test_a_webp_with_alpha_and_a_lossless_webp_are_read() -> None:
    for options in ({"lossless": True}, {"quality": 50}):
        out = io.BytesIO()
        Image.new("RGBA", (641, 479), (1, 2, 3, 4)).save(out, format="WEBP", **options)
        assert image_size(ImagePart(data=out.getvalue(), media_type="image/webp")) == (641, 479)


def test_a_jpeg_whose_header_is_far_into_the_file_is_read() -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000  # an ImageDescription of 60 kB before the frame header
    Image.new("RGB", (1200, 900)).save(out, format="JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert data.index(b"\xff\xc0") > 60_000
    url = f"data:image/jpeg;base64,{base64.b64encode(data).decode()}"
    assert image_size(ImagePart(url=url)) == (1200, 900)


def test_a_remote_image_or_unreadable_bytes_have_no_size_and_their_count_is_not_exact() -> None:
    remote = ImagePart(url="https://example.com/cat.png", detail="high")
    junk = ImagePart(data=b"not an image at all", media_type="image/png")
    assert image_size(remote) is None and image_size(junk) is None
    assert image_cost("gpt-4o", remote).exact is False
    assert image_cost("gpt-4o", ImagePart(url="https://example.com/cat.png", detail="low")).exact is True
    request = ChatRequest((Message.user([TextPart("what is it?"), remote]),), model="gpt-4o")
    count = TiktokenCounter().count_chat(request)
    assert (count.tokens, count.exact) == (3 + 1 + 4 + 85 + 8 * 170 + 3, False)


def test_images_on_an_unknown_model_are_counted_as_on_gpt_4o_but_not_exact() -> None:
    part = ImagePart(data=image_bytes(1024, 1024, "PNG"), media_type="image/png")
    assert image_cost("my-vision-model", part).tokens == 765
    assert image_cost("my-vision-model", part).exact is False
