"""Offline curation of the default lexicons in ``config/lexicons/`` from the public lists.

Run: ``.venv/bin/python -m screening.curate [DATA_DIR] [CLEAN_TEXT]`` (defaults: the shared data
folder). Steps, each counted in the log and summarised in ``config/lexicons/README.md``:

1. Collect terms by category: houbb/sensitive-word tags (0 政治 → political; 2 色情 → vulgar;
   1 毒品, 3 赌博, 4 违法 → violence_contraband) and konsheng/Sensitive-lexicon files by name
   (政治类型, 反动词库, 新思想启蒙, 贪腐词库 → political; 色情类型, 色情词库 → vulgar; 暴恐词库,
   涉枪涉爆 → violence_contraband; 广告类型 → advertising). Untagged or mixed lists are not used.
2. Drop single characters (after normalisation), terms over 20 characters, pure numbers, Latin
   terms shorter than 4 letters (sb, cp, 22b: the houbb #45/#59/#69 false positives), and
   everyday words: anything in jieba's dictionary with frequency ≥ 500 (中央, 岩石, 小姐, 问道 …).
3. Drop terms that occur in the *curation half* (first half of the documents) of the clean
   prose; the false-positive figure is then measured on the other half (bench/false_positives.py),
   so the curation does not grade its own homework.
4. Add the hand-kept core terms below (common abuse words that jieba knows as frequent words).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

SHARED = Path("/work/shared/data")
OUT_DIR = Path(__file__).resolve().parent.parent / "config" / "lexicons"
VERSION = "2026-11-26.1"
MAX_JIEBA_FREQ = 100
MAX_JIEBA_FREQ_TWO_CHARS = 20
PRIORITY = ("political", "violence_contraband", "vulgar", "advertising")

HOUBB_TAGS = {
    "0": "political",
    "1": "violence_contraband",
    "2": "vulgar",
    "3": "violence_contraband",
    "4": "violence_contraband",
}
KONSHENG_FILES = {
    "政治类型.txt": "political",
    "反动词库.txt": "political",
    "新思想启蒙.txt": "political",
    "贪腐词库.txt": "political",
    "色情类型.txt": "vulgar",
    "色情词库.txt": "vulgar",
    "暴恐词库.txt": "violence_contraband",
    "涉枪涉爆.txt": "violence_contraband",
    "广告类型.txt": "advertising",
}
HAND_KEEP = {
    "vulgar": (
        "他妈的",
        "傻逼",
        "操你妈",
        "草泥马",
        "卧槽",
        "妈的逼",
        "狗日的",
        "王八蛋",
        "贱人",
        "婊子",
        "去你妈的",
        "日你妈",
        "艹你妈",
        "fuck you",
        "motherfucker",
    ),
    "political": (
        "法轮功",
        "法轮大法",
        "六四事件",
        "八九民运",
        "天安门事件",
        "一党专政",
        "平近习",
        "习包子",
        "falundafa",
        "李洪志",
        "藏独",
        "疆独",
        "台独",
    ),
    "violence_contraband": (
        "冰毒",
        "海洛因",
        "摇头丸",
        "枪支弹药",
        "买卖枪支",
        "网络赌博",
        "六合彩",
        "代开发票",
        "办假证",
    ),
    "advertising": (
        "加微信",
        "加我微信",
        "私聊有惊喜",
        "刷单",
        "兼职刷单",
        "日赚千元",
        "免费领取",
        "点击链接",
        "代理加盟",
    ),
}
# Everyday words found in the public lists by reading the false-positive reports (tech prose).
DROP = frozenset(
    {
        "验证码",
        "种子下载",
        "内部使用",
        "性服务",
        "卡巴刀",
        "维基百科",
        "联邦政府",
        "下载速度",
        "公证",
        "咖啡因",
        "6月4日",
    }
)
_DATE_RE = re.compile(r"^[0-9]{1,2}月[0-9]{1,2}[日号]$")
# Names of state leaders appear in ordinary corporate news (学习习近平新时代…): they must not
# block, but need the leader in charge and Brand-PR to approve (category "sensitive"). Evasive
# spellings of these names (平近习, 习包子) stay in political/block.
POLITICAL_FIGURES = (
    "习近平",
    "习主席",
    "习总书记",
    "李强",
    "赵乐际",
    "王沪宁",
    "蔡奇",
    "丁薛祥",
    "李希",
    "韩正",
    "王岐山",
    "胡锦涛",
    "温家宝",
    "江泽民",
    "李克强",
    "朱镕基",
    "李鹏",
    "邓小平",
    "毛泽东",
    "周恩来",
    "刘少奇",
    "华国锋",
    "胡耀邦",
    "赵紫阳",
    "彭丽媛",
    "习明泽",
    "栗战书",
    "汪洋",
)

# Combination rules for ambiguous words dropped above (大麻 alone is also 大麻烦, hemp, …).
HAND_RULES = {
    "violence_contraband": (
        "@near 10: 大麻, 可卡因, 鸦片 | 吸食, 种植, 贩卖, 走私, 购买, 出售",
        "@near 10: 枪支, 子弹, 炸药 | 出售, 购买, 贩卖, 私制, 代购",
    ),
    "vulgar": (),
    "political": (),
    "advertising": ("@near 15: 微信, qq | 兼职, 日赚, 返利",),
}
HEADERS = {
    "political": ("block", "high", "major political sensitivity (Art. 18, 21)"),
    "vulgar": ("block", "high", "vulgar, abusive and pornographic language (Art. 21)"),
    "violence_contraband": ("block", "high", "violence, terrorism, drugs, weapons, gambling"),
    "advertising": ("review", "medium", "advertising and traffic-diversion phrases"),
}


def _read_lines(path: Path) -> Iterable[str]:
    for raw in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        term = raw.strip().strip(",，").strip()
        if term:
            yield term


def collect(data: Path) -> dict[str, dict[str, set[str]]]:
    """category → term → set of source tags."""
    out: dict[str, dict[str, set[str]]] = {c: {} for c in PRIORITY}
    for line in _read_lines(data / "lexicons/houbb-sensitive-word/sensitive_word_tags.txt"):
        word, _, tags = line.rpartition(" ")
        for tag in tags.split(","):
            cat = HOUBB_TAGS.get(tag.strip())
            if word and cat:
                out[cat].setdefault(word.strip(), set()).add("houbb")
    for fname, cat in KONSHENG_FILES.items():
        for term in _read_lines(data / "lexicons/konsheng-Sensitive-lexicon" / fname):
            out[cat].setdefault(term, set()).add("konsheng")
    return out


def _everyday(term: str, freq: dict[str, int]) -> bool:
    limit = MAX_JIEBA_FREQ_TWO_CHARS if len(term) == 2 else MAX_JIEBA_FREQ
    return freq.get(term, 0) >= limit


def curate(data: Path, clean_text: Path) -> dict[str, list[str]]:
    """Curated term lists by category (see the module docstring)."""
    import jieba

    from screening.lexicon import LexiconError, _check_term
    from screening.views import canonical

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq = jieba.dt.FREQ
    docs = clean_text.read_text(encoding="utf-8").splitlines()
    curation_half = canonical("\n".join(docs[: len(docs) // 2])).text
    collected = collect(data)
    assigned: dict[str, str] = {}
    stats: dict[str, dict[str, int]] = {}
    for cat in PRIORITY:
        st = stats.setdefault(
            cat,
            {
                "collected": len(collected[cat]),
                "short_or_long": 0,
                "latin_or_number": 0,
                "everyday": 0,
                "in_clean_prose": 0,
            },
        )
        for term in sorted(collected[cat]):
            try:
                _check_term(term, "curate")
            except LexiconError:
                st["short_or_long"] += 1
                continue
            key = canonical(term).text.strip()
            if term[0] in "#!@" or len(key) < 2 or len(key) > 20:
                st["short_or_long"] += 1
                continue
            if key.isdigit() or (
                key.isascii() and (len(key) < 4 or not key.replace(" ", "").isalpha())
            ):
                st["latin_or_number"] += 1
                continue
            if term in POLITICAL_FIGURES:
                continue
            if _everyday(term, freq) or _everyday(key, freq) or term in DROP or _DATE_RE.match(key):
                st["everyday"] += 1
                continue
            if key in curation_half:
                st["in_clean_prose"] += 1
                continue
            assigned.setdefault(term, cat)
        for term in HAND_KEEP[cat]:
            assigned.setdefault(term, cat)
    result: dict[str, list[str]] = {c: [] for c in PRIORITY}
    for term, cat in assigned.items():
        result[cat].append(term)
    for cat in PRIORITY:
        stats[cat]["kept"] = len(result[cat])
        logger.info("%s: %s", cat, stats[cat])
    return {c: sorted(v) for c, v in result.items()}


def write(lists: dict[str, list[str]], out_dir: Path = OUT_DIR) -> None:
    """Write one lexicon file per category with its header."""
    for cat, terms in lists.items():
        action, severity, description = HEADERS[cat]
        srcs = (
            "houbb/sensitive-word@a4fddc0 (Apache-2.0) + konsheng/Sensitive-lexicon@5a8da94 (MIT)"
        )
        head = [
            f"# category: {cat}",
            f"# action: {action}",
            f"# severity: {severity}",
            f"# source: {srcs}, curated by screening/curate.py",
            f"# version: {VERSION}",
            "# licence: Apache-2.0 AND MIT (see config/lexicons/README.md)",
            f"# description: {description}",
            "# generated file: edit screening/curate.py, not this",
        ]
        body = head + terms + list(HAND_RULES.get(cat, ()))
        (out_dir / f"{cat}.txt").write_text("\n".join(body) + "\n", encoding="utf-8")


def write_figures(out_dir: Path = OUT_DIR) -> None:
    """The political-figures lexicon (hand list, review by leader + Brand-PR)."""
    head = [
        "# category: sensitive",
        "# action: review",
        "# severity: high",
        "# source: hand-curated list of PRC state leaders (public record), mediagate",
        f"# version: {VERSION}",
        "# licence: CC0-1.0",
        "# description: state leaders' names: never blocked, reviewed by leader + brand_pr",
        "# generated file: edit screening/curate.py, not this",
    ]
    (out_dir / "political_figures.txt").write_text(
        "\n".join(head + list(POLITICAL_FIGURES)) + "\n", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> None:
    """Curate and write the default lexicons."""
    args = sys.argv[1:] if argv is None else argv
    data = Path(args[0]) if args else SHARED
    clean = Path(args[1]) if len(args) > 1 else SHARED / "clean/TranslateProject/text.txt"
    write(curate(data, clean))
    write_figures()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
