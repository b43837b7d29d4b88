"""Offline generator of the evasion tables in ``screening/data/`` (look-alikes, split characters,
polyphonic readings), from the reference tables in ``../shared/data/tables/``.

* ``confusables.tsv`` — Unicode UTS #39 confusables (Unicode License V3): a character that looks
  like a Latin letter, a digit or a hanzi → that letter, digit or hanzi (Cyrillic ``а`` → ``a``,
  katakana ``ロ`` → ``口``, Kangxi radical ``⼈`` → ``人``). Real hanzi and ASCII are never folded.
* ``shape.tsv`` — similar-shape (形近字) folds for *rare* characters only: a character that is rare
  in jieba's dictionary and looks like a common one → the common one (pycorrector's curated groups,
  Apache-2.0, then contr4l/SimilarCharacter, MIT, for characters pycorrector does not list).
* ``chaizi.tsv`` — characters split into two or three components (拆字), kfcd/chaizi, CC BY 3.0.
* ``polyphonic.tsv`` — the toneless readings in use of characters with more than one (多音字):
  pypinyin's character dictionary (MIT), a further reading kept when pypinyin's phrase dictionary
  uses it often enough; the reading of ``pinyin.tsv`` first.

Deterministic: the same inputs (and jieba's bundled dictionary, pypinyin 0.55.0's phrase
dictionary) give byte-identical files. Run (needs ``pypinyin``, offline only):
``.venv/bin/python -m screening.tables --evasion-only [--tables DIR]``.
"""

from __future__ import annotations

import collections
import logging
import unicodedata
from pathlib import Path

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
SHARED_TABLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "tables"

#: Similar-shape folds: a character below this jieba frequency (summed over every dictionary
#: word that contains it) is rare; a target needs at least the second.
RARE_BELOW = 300
COMMON_FROM = 3000
#: A component at least this frequent is an ordinary character on its own (口, 天, 女, 子); a
#: less frequent one (讠, 扌, 氵) is marked: a split holding one is unmistakably a split.
STANDALONE_FROM = 1000
#: A further reading of a polyphonic character is used when pypinyin's phrases read it so in at
#: least this many phrases and this share of the character's phrases.
MIN_PHRASES = 3
MIN_PHRASE_SHARE = 0.05
#: A polyphonic character used on its own at least this often in jieba's dictionary is a function
#: word (了, 的, 和, 着, 还): text is not read its second way (的 as di made every X的 a homophone).
FUNCTION_WORD_FROM = 50_000

_HEADERS = {
    "confusables.tsv": (
        "Derived from Unicode UTS #39 confusables.txt 17.0.0 (unicode-org/unicodetools",
        "2c1309ab2ac1de5c62f09089c8ed6bf6f1d37920). Copyright (c) 2025 Unicode, Inc.,",
        "Unicode License V3 (https://www.unicode.org/license.txt).",
        "Format: CHAR<TAB>FOLD (one code point each).",
    ),
    "shape.tsv": (
        "Similar-shape folds for rare characters. Derived from pycorrector same_stroke.txt",
        "(github.com/shibing624/pycorrector, Apache License 2.0) and contr4l/SimilarCharacter",
        "(github.com/contr4l/SimilarCharacter, MIT License, Copyright (c) 2020 XiaoFang);",
        "rarity from jieba's dict.txt (MIT). Format: RARE<TAB>COMMON.",
    ),
    "chaizi.tsv": (
        "Character decompositions (拆字) from kfcd/chaizi chaizi-jt.txt",
        "(github.com/kfcd/chaizi e177ab54, (c) 2015 開放詞典 kaifangcidian.com),",
        "licensed CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/); filtered to",
        "decompositions of two or three components. Format: CHAR<TAB>COMP COMP[<TAB>...];",
        "* marks a component that is not an ordinary character on its own (讠, 扌, 氵).",
    ),
    "polyphonic.tsv": (
        "Toneless readings of characters with more than one (多音字), from pypinyin 0.55.0",
        "pinyin_dict, kept when its phrases_dict uses them (github.com/mozillazg/python-pinyin,",
        "MIT License, Copyright (c) 2016 mozillazg).",
        "Format: CHAR<TAB>READING,READING,...[<TAB>*] (the first is pinyin.tsv's; * marks a",
        "function word, whose second reading is used for lexicon terms but not for text).",
    ),
}


def _cjk_unified(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3134F


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def build_confusables(tables: Path) -> dict[str, str]:
    """Single-code-point confusables → a lowercase ASCII letter or digit, or a hanzi."""
    classes: dict[str, set[str]] = collections.defaultdict(set)
    path = tables / "unicode_confusables" / "confusables.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        src_hex, dst_hex = (f.strip() for f in data.split(";")[:2])
        src = "".join(chr(int(h, 16)) for h in src_hex.split())
        dst = "".join(chr(int(h, 16)) for h in dst_hex.split())
        if len(src) == 1 and len(dst) == 1:
            classes[dst].update((src, dst))
    out: dict[str, str] = {}
    for proto in sorted(classes):
        members = classes[proto]
        if _ascii_alnum(proto):
            rep = proto.lower()
        else:
            ascii_members = sorted(m for m in members if _ascii_alnum(m))
            hanzi = sorted(m for m in members if _cjk_unified(m))
            if ascii_members:
                rep = ascii_members[0].lower()
            elif hanzi:
                rep = hanzi[0]
            else:
                continue
        rep_kind = unicodedata.category(rep)[0]
        for m in sorted(members):
            if m == rep or m.isascii() or _cjk_unified(m) or m == "〇":
                continue
            if rep.isascii() and unicodedata.category(m)[0] != rep_kind:
                continue  # a letter never becomes a digit (Cyrillic З is not 3), nor the reverse
            out[m] = rep
    return out


def char_frequency() -> collections.Counter[str]:
    """Per character: the summed frequency of every jieba dictionary word that contains it."""
    import jieba

    freq: collections.Counter[str] = collections.Counter()
    path = Path(jieba.__file__).parent / "dict.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        word, count = line.split(" ")[:2]
        for ch in set(word):
            freq[ch] += int(count)
    return freq


def single_frequency() -> collections.Counter[str]:
    """Per character: its frequency as a one-character word in jieba's dictionary."""
    import jieba

    freq: collections.Counter[str] = collections.Counter()
    path = Path(jieba.__file__).parent / "dict.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        word, count = line.split(" ")[:2]
        if len(word) == 1:
            freq[word] += int(count)
    return freq


def _shape_pairs(tables: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    curated: set[tuple[str, str]] = set()
    path = tables / "similar_shape_pycorrector" / "same_stroke.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        group = [c for c in line.split("\t") if len(c) == 1]
        for other in group[1:]:
            if other != group[0]:
                curated |= {(group[0], other), (other, group[0])}
    broad: set[tuple[str, str]] = set()
    path = tables / "similar_shape_contr4l" / "xingjinzi_corpus.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        head, _, rest = line.rstrip("\r").partition(" ")
        for other in rest.strip():
            if len(head) == 1 and other != head:
                broad |= {(head, other), (other, head)}
    return curated, broad


def build_shape(tables: Path, freq: collections.Counter[str]) -> dict[str, str]:
    """Rare character → the most frequent common character of the same shape."""
    out: dict[str, str] = {}
    for pairs in _shape_pairs(tables):
        best: dict[str, str] = {}
        for a, b in sorted(pairs):
            if a in out or freq[a] >= RARE_BELOW or freq[b] < COMMON_FROM:
                continue
            if not (_cjk_unified(a) and _cjk_unified(b)):
                continue
            if a not in best or (freq[b], best[a]) > (freq[best[a]], b):
                best[a] = b
        out.update(best)
    return out


def build_chaizi(tables: Path, freq: collections.Counter[str]) -> dict[str, list[str]]:
    """Character → its decompositions into two or three components (space-separated). A
    component that is not an ordinary character on its own (a radical form: 讠, 扌, 氵) is marked
    with ``*``; a split with none (口 天, 女 子) reads as ordinary text."""
    out: dict[str, list[str]] = {}
    path = tables / "chaizi_jt" / "chaizi-jt.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        ch = fields[0].strip()
        if len(ch) != 1 or ch == "□" or not _cjk_unified(ch):
            continue
        for alt in fields[1:]:
            comps = alt.split()
            if not 2 <= len(comps) <= 3 or ch in comps or "□" in comps:
                continue
            if any(len(c) != 1 for c in comps) or len(set(comps)) < len(comps):
                continue  # a repeated component collapses in the skeleton (木木 = 木)
            joined = " ".join(c if freq[c] >= STANDALONE_FROM else f"*{c}" for c in comps)
            if joined not in out.setdefault(ch, []):
                out[ch].append(joined)
    return {k: v for k, v in out.items() if v}


def phrase_readings() -> dict[str, collections.Counter[str]]:
    """Per character: how many of pypinyin's phrases read it each way (toneless)."""
    from pypinyin import Style, phrases_dict
    from pypinyin.style import convert

    out: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for phrase, readings in sorted(phrases_dict.phrases_dict.items()):
        if len(phrase) != len(readings):
            continue
        for ch, options in zip(phrase, readings, strict=True):
            out[ch][convert(options[0], Style.NORMAL, strict=False).replace("ü", "v")] += 1
    return out


def build_polyphonic(tables: Path, pinyin: dict[str, str]) -> dict[str, list[str]]:
    """Character → its toneless readings in use (``ü`` as ``v``), ``pinyin.tsv``'s first.

    A further reading is kept only when pypinyin's phrase dictionary uses it in at least
    :data:`MIN_PHRASES` phrases and :data:`MIN_PHRASE_SHARE` of the character's phrases (重
    chong, 行 hang, 长 chang, 乐 yue): the dictionary's rare readings (强 jiang, 射 yi, 大 dai)
    made ordinary words homophones of terms (立刻将 ~ 李克强)."""
    attested = phrase_readings()
    out: dict[str, list[str]] = {}
    path = tables / "polyphonic_pypinyin" / "polyphonic_toneless.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        ch, _, readings = line.partition("\t")
        first = pinyin.get(ch)
        if first is None:
            continue
        counts = attested.get(ch, collections.Counter())
        total = sum(counts.values())
        rs = [first]
        for reading in readings.split(","):
            r = reading.replace("ü", "v").lower()
            if not (r.isascii() and r.isalpha()) or r in rs:
                continue
            if counts[r] >= MIN_PHRASES and counts[r] >= MIN_PHRASE_SHARE * total:
                rs.append(r)
        if len(rs) > 1:
            out[ch] = rs
    return out


def _write(out_dir: Path, name: str, rows: list[str]) -> None:
    header = "".join(f"# {h}\n" for h in _HEADERS[name])
    header += "# Generated by: python -m screening.tables --evasion-only\n"
    (out_dir / name).write_text(header + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    logger.info("wrote %s: %d rows", name, len(rows))


def write_evasion_tables(tables: Path = SHARED_TABLES, out_dir: Path = DATA_DIR) -> None:
    """Write the four tables into ``out_dir`` (``screening/data/``)."""
    pinyin: dict[str, str] = {}
    for line in (DATA_DIR / "pinyin.tsv").read_text(encoding="utf-8").splitlines():
        src, dst = line.split("\t")
        pinyin[src] = dst
    confusables = build_confusables(tables)
    _write(out_dir, "confusables.tsv", [f"{k}\t{v}" for k, v in sorted(confusables.items())])
    freq = char_frequency()
    shape = build_shape(tables, freq)
    _write(out_dir, "shape.tsv", [f"{k}\t{v}" for k, v in sorted(shape.items())])
    chaizi = build_chaizi(tables, freq)
    _write(out_dir, "chaizi.tsv", [f"{k}\t" + "\t".join(v) for k, v in sorted(chaizi.items())])
    poly = build_polyphonic(tables, pinyin)
    alone = single_frequency()
    rows = [
        f"{k}\t" + ",".join(v) + ("\t*" if alone[k] >= FUNCTION_WORD_FROM else "")
        for k, v in sorted(poly.items())
    ]
    _write(out_dir, "polyphonic.tsv", rows)


def read_table(name: str) -> list[list[str]]:
    """The rows of a generated table (comment lines skipped), fields split on TAB."""
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
