"""Pictures from DICOM pixels: a windowed 8-bit image, a thumbnail PNG, a contact sheet.

Pure functions, no requests: :mod:`xnat.services.preview` fetches the pixels and calls
these. The display follows DICOM PS3.3 C.11.2.1.2 (the modality and VOI LUTs):

* stored values go through ``RescaleSlope``/``RescaleIntercept`` first;
* the window is ``WindowCenter``/``WindowWidth`` when the file has one (the first of
  several), else the 1st to 99th percentile of the values, so that a few hot pixels do
  not turn the picture grey;
* ``MONOCHROME1`` (low values bright) is inverted after windowing;
* colour pixels (RGB after pydicom's conversion) are only scaled to 8 bits.

numpy and Pillow come with the ``dicom`` extra; they are imported by the functions that
use them, so importing this module costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_SIZE", "contact_sheet_png", "display_image", "thumbnail_png"]

#: The longest side of a thumbnail, in pixels.
DEFAULT_SIZE = 256
#: The percentiles that bound the window when the file gives none.
PERCENTILES = (1.0, 99.0)


def _first(value: Any) -> float | None:
    """A header number, or the first of several (``WindowCenter`` may hold one per window)."""
    if value is None or value == "":
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):  # pydicom's MultiValue, a list
        return float(value[0]) if len(value) else None
    return float(value)


def display_image(pixels: np.ndarray, header: Any) -> np.ndarray:
    """The 8-bit picture (``uint8``, 2-D grey or ``(rows, columns, 3)`` colour) of one frame.

    :param pixels: the frame as pydicom decodes it
    :param header: the dataset (or any object with DICOM keyword attributes) it came from
    """
    import numpy as np

    if pixels.ndim == 3:  # colour: no modality or VOI LUT applies
        return _to_8_bits(pixels.astype(np.float64), float(pixels.min()), float(pixels.max()))
    slope = _first(getattr(header, "RescaleSlope", None))
    intercept = _first(getattr(header, "RescaleIntercept", None))
    values = pixels.astype(np.float64) * (1.0 if slope is None else slope) + (intercept or 0.0)
    image = _windowed(values, _first(getattr(header, "WindowCenter", None)),
                      _first(getattr(header, "WindowWidth", None)))
    if str(getattr(header, "PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        image = 255 - image
    return image


def _windowed(values: np.ndarray, center: float | None, width: float | None) -> np.ndarray:
    import numpy as np

    if center is not None and width is not None and width >= 1:
        # The linear VOI function of PS3.3 C.11.2.1.2.1.
        scaled = ((values - (center - 0.5)) / (width - 1 if width > 1 else 1) + 0.5) * 255.0
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    low, high = (float(v) for v in np.percentile(values, PERCENTILES))
    return _to_8_bits(values, low, high)


def _to_8_bits(values: np.ndarray, low: float, high: float) -> np.ndarray:
    import numpy as np

    if high <= low:  # a flat picture: all black rather than a division by zero
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip(np.rint((values - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)


def _pil(image: np.ndarray, size: int) -> Any:
    """A Pillow image of ``image`` whose longest side is ``size`` (enlarged or reduced)."""
    from PIL import Image

    picture = Image.fromarray(image, mode="RGB" if image.ndim == 3 else "L")
    rows, columns = image.shape[:2]
    scale = size / max(rows, columns)
    shape = (max(1, round(columns * scale)), max(1, round(rows * scale)))
    return picture.resize(shape, Image.Resampling.LANCZOS)


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= 4096:
        raise ValueError(f"size must be a whole number of pixels from 16 to 4096, not {size!r}")


def _png(picture: Any) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def thumbnail_png(image: np.ndarray, size: int = DEFAULT_SIZE) -> bytes:
    """A PNG of ``image`` (from :func:`display_image`) whose longest side is ``size`` pixels."""
    _check_size(size)
    return _png(_pil(image, size))


def contact_sheet_png(tiles: Sequence[tuple[str, np.ndarray | None]], size: int = 160, columns: int = 4) -> bytes:
    """A PNG grid of ``(caption, image or None)`` tiles, ``size`` pixels square each, captioned below.

    A tile without an image (a scan with no DICOM, or pixels that could not be decoded) is
    drawn as an empty dark square with its caption, so the sheet shows every scan.
    """
    from PIL import Image, ImageDraw, ImageFont

    _check_size(size)
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    caption = 14
    sheet = Image.new("RGB", (columns * size, rows * (size + caption)), "black")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for number, (text, image) in enumerate(tiles):
        left, top = (number % columns) * size, (number // columns) * (size + caption)
        if image is None:
            draw.rectangle((left + 1, top + 1, left + size - 2, top + size - 2), outline=(90, 90, 90))
        else:
            picture = _pil(image, size - 4).convert("RGB")
            sheet.paste(picture, (left + (size - picture.width) // 2, top + (size - picture.height) // 2))
        draw.text((left + 3, top + size), _fit(draw, font, text, size - 6), fill=(230, 230, 230), font=font)
    return _png(sheet)


def _fit(draw: Any, font: Any, text: str, width: int) -> str:
    """``text`` cut (ending in "...") to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."
