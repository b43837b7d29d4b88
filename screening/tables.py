"""Offline generator of the compact character tables in ``screening/data/``.

Runtime screening must not depend on OpenCC or pypinyin (heavy, slow: phrase-aware pypinyin costs
~28 ms per article). This script reads them once, at development time, and writes two small text
tables that :mod:`screening.views` loads:

* ``t2s.tsv``  — traditional / variant character → simplified character (OpenCC ``TSCharacters``
  plus the HK/TW variant tables, first candidate, single characters only).
* ``pinyin.tsv`` — CJK character → toneless pinyin of its first reading (pypinyin ``pinyin_dict``).

Run: ``.venv/bin/python -m screening.tables`` (needs ``opencc-python-reimplemented`` and
``pypinyin``; both are Apache-2.0/MIT licensed data sources, see ``docs/screening.md``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from screening.evasion_tables import SHARED_TABLES, write_evasion_tables

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"


def _read_opencc(name: str) -> dict[str, str]:
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / name
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or "\t" not in line:
            continue
        src, dst = line.split("\t", 1)
        target = dst.split(" ")[0]
        if len(src) == 1 and len(target) == 1 and src != target:
            table.setdefault(src, target)
    return table


def build_t2s() -> dict[str, str]:
    """Traditional and regional variants → simplified, single characters only."""
    t2s = _read_opencc("TSCharacters.txt")
    for rev in ("HKVariantsRev.txt", "TWVariantsRev.txt"):
        for src, dst in _read_opencc(rev).items():
            t2s.setdefault(src, t2s.get(dst, dst))
    # resolve chains (variant → traditional → simplified)
    return {k: t2s.get(v, v) for k, v in t2s.items() if t2s.get(v, v) != k}


def build_pinyin() -> dict[str, str]:
    """CJK character → toneless pinyin (first reading), ``ü`` written ``v``."""
    from pypinyin import Style, pinyin_dict
    from pypinyin.style import convert

    table: dict[str, str] = {}
    for code, readings in pinyin_dict.pinyin_dict.items():
        ch = chr(code)
        first = readings.split(",")[0]
        plain = convert(first, Style.NORMAL, strict=False).replace("ü", "v")
        if plain.isascii() and plain.isalpha():
            table[ch] = plain.lower()
    return table


def main(argv: list[str] | None = None) -> None:
    """Write ``t2s.tsv`` and ``pinyin.tsv`` (unless ``--evasion-only``) and the evasion tables."""
    parser = argparse.ArgumentParser(description="Rebuild screening/data/*.tsv")
    parser.add_argument("--evasion-only", action="store_true", help="skip t2s.tsv, pinyin.tsv")
    parser.add_argument("--tables", type=Path, default=SHARED_TABLES, help="source tables dir")
    args = parser.parse_args(argv)
    DATA_DIR.mkdir(exist_ok=True)
    write_evasion_tables(args.tables)
    if args.evasion_only:
        return
    t2s = build_t2s()
    (DATA_DIR / "t2s.tsv").write_text(
        "".join(f"{k}\t{v}\n" for k, v in sorted(t2s.items())), encoding="utf-8"
    )
    py = build_pinyin()
    (DATA_DIR / "pinyin.tsv").write_text(
        "".join(f"{k}\t{v}\n" for k, v in sorted(py.items())), encoding="utf-8"
    )
    logger.info("wrote %d t2s and %d pinyin entries", len(t2s), len(py))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
