"""The WordPress content rules (connectors/wordpress_content.py): marker, images, file names."""

from __future__ import annotations

import hashlib

import pytest

from connectors.base import Image
from connectors.emulators.wordpress import autop
from connectors.wordpress_content import (
    image_refs,
    image_title,
    marker,
    rewrite_images,
    upload_filename,
    with_marker,
)

JPEG = b"\xff\xd8\xff\xe0"


def _image(name: str, data: bytes, ctype: str = "image/jpeg") -> Image:
    return Image(name, ctype, data, hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<p>a</p><p>b</p>", "<p>a</p><p>b{m}</p>"),
        ("<p>a</p>\n<p>b</p>\n\n", "<p>a</p>\n<p>b{m}</p>\n\n"),
        ("纯文本，没有标签", "纯文本，没有标签{m}"),
        ("<ul><li>一</li><li>二</li></ul>", "<ul><li>一</li><li>二{m}</li></ul>"),
        ('<p>a</p><img src="x">', '<p>a</p><img src="x">{m}'),
        ("<figure><img src=x><figcaption>图</figcaption></figure>",
         "<figure><img src=x><figcaption>图{m}</figcaption></figure>"),
        ("<p>a</p><script>var x = 1;</script>", "<p>a</p><script>var x = 1;</script>{m}"),
        ("", "{m}"),
    ],
)  # fmt: skip
def test_marker_goes_inside_the_last_element(content: str, expected: str) -> None:
    m = f"<!-- {marker('J')} -->"
    assert with_marker(content, "J") == expected.format(m=m)
    if "<script" not in content and content:
        assert "<p><!--" not in autop(with_marker(content, "J"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cover.jpg", "cover.jpg"),
        ("封面.jpg", "image-{h}.jpg"),
        ("年会 photo.png", "image-{h}.png"),
        ("noext", "image-{h}.jpg"),
        ("a%20b.jpg", "image-{h}.jpg"),
        ('x".jpg', "image-{h}.jpg"),
    ],
)
def test_upload_filename_is_ascii(name: str, expected: str) -> None:
    image = _image(name, JPEG + name.encode())
    assert upload_filename(image) == expected.format(h=image.sha256[:12])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('<img src="image:0">', '<img class="wp-image-11" src="https://s/a.png">'),
        ("<img src='image:1' alt='图'>",
         "<img class=\"wp-image-12\" src='https://s/b.jpg' alt='图'>"),
        ('<img class="wide" src="image:0">', '<img class="wide wp-image-11" src="https://s/a.png">'),
        ('<IMG SRC="image:1"/>', '<img class="wp-image-12" SRC="https://s/b.jpg"/>'),
        ('<img src="https://other/x.png">', '<img src="https://other/x.png">'),
        ('<p>image:0</p><img data-x="1" src="image:0">',
         '<p>image:0</p><img class="wp-image-11" data-x="1" src="https://s/a.png">'),
    ],
)  # fmt: skip
def test_rewrite_images_points_at_the_attachment_with_its_class(
    content: str, expected: str
) -> None:
    media = {0: {"id": 11, "url": "https://s/a.png"}, 1: {"id": 12, "url": "https://s/b.jpg"}}
    assert rewrite_images(content, media) == expected


def test_image_refs_and_title() -> None:
    assert image_refs('<img src="image:2"><img src="x"><img alt="" src=\'image:0\'>') == [2, 0]
    assert image_title(_image("封面.jpg", JPEG)) == "封面"
    assert image_title(_image("noext", JPEG)) == "noext"
