"""Offline curation of the default lexicons in ``config/lexicons/`` from the public lists,
driven by how every term behaves on clean Chinese prose.

Run: ``.venv/bin/python -m screening.curate [--data DIR]`` (default: ``<repo>/../shared/data``,
the public lists under ``lexicons/`` and the clean corpora under ``clean/``). Deterministic: the
same inputs give byte-identical files. Steps, each counted in the log and summarised in
``config/lexicons/README.md``:

1. Collect terms by category: houbb/sensitive-word tags (0 政治 → political; 2 色情 → vulgar;
   1 毒品, 3 赌博, 4 违法 → violence_contraband) and konsheng/Sensitive-lexicon files by name
   (政治类型, 反动词库, 新思想启蒙, 贪腐词库 → political; 色情类型, 色情词库 → vulgar; 暴恐词库,
   涉枪涉爆 → violence_contraband; 广告类型 → advertising). Untagged or mixed lists are not used.
2. Drop single characters (after normalisation), terms over 20 characters, pure numbers, Latin
   terms shorter than 4 letters (sb, cp, 22b: the houbb #45/#59/#69 false positives), and
   everyday words: anything in jieba's dictionary with frequency ≥ 100 (≥ 20 for two
   characters: 中央, 岩石, 小姐, 问道 …).
3. Add the hand-kept core terms below (common abuse words that jieba knows as frequent words).
4. Screen every clean corpus with the candidate lists (every view, the boundary rules of
   :mod:`screening.detectors.terms`) and decide each term by class (:func:`decide`): a term found
   in ordinary prose cannot block; the decisions and every term's hits go to
   ``config/lexicons/curation.tsv`` so Brand-PR can read why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from screening.lexicon import CombinationRule, Lexicon

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT_DIR = ROOT / "config" / "lexicons"
TABLE_FILE = "curation.tsv"
VERSION = "2026-12-06.2"
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
    # names of drugs and contraband crimes: news reports them (缴获海洛因, 打击代开发票), so
    # alone they are reviewed (HAND_REVIEW); an advertisement for them blocks (HAND_RULES)
    "violence_contraband": (),
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
# Terms of the public lists that are ordinary words jieba does not know, found by reading every
# two-character term of the vulgar list (and the three-character ones with 性, 奶, 妈): a colour
# gamut, a film, a Buddhist realm, an acupoint, clothing, food, puberty, parenting
HAND_ORDINARY = (
    "色域",
    "色戒",
    "色界",
    "穴口",
    "胸垫",
    "肉香",
    "贝肉",
    "性发育",
    "挤母奶",
    "辣妈群",
)
HAND_REVIEW = (
    "冰毒",
    "海洛因",
    "摇头丸",
    "枪支弹药",
    "买卖枪支",
    "网络赌博",
    "六合彩",
    "代开发票",
    "办假证",
)
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
_CONTRABAND = (
    "冰毒, 海洛因, 摇头丸, 大麻, 可卡因, 鸦片, 枪支, 子弹, 炸药, 仿真枪, 发票, 假证, 六合彩"
)
_AD_WORDS = "出售, 代购, 批发, 货源, 有货, 包邮, 价格优惠, 加微信, 加我微信, 加v, 联系电话, qq"
# Combination rules: contraband offered for sale blocks; the crimes news reports are reviewed.
HAND_RULES = {
    "violence_contraband": (f"@near 12: {_CONTRABAND} | {_AD_WORDS}",),
    "violence_contraband_review": (
        "@near 10: 大麻, 可卡因, 鸦片 | 吸食, 种植, 贩卖, 走私, 购买",
        "@near 10: 枪支, 子弹, 炸药 | 购买, 贩卖, 私制",
    ),
    "vulgar": (),
    "political": (),
    "advertising": ("@near 15: 微信, qq | 兼职, 日赚, 返利",),
}
#: generated lexicon files: name → (category, action, severity, evasion category, description)
HEADERS: dict[str, tuple[str, str, str, str, str]] = {
    "political": (
        "political",
        "review",
        "high",
        "political_evasion",
        "major sensitive current affairs (Art. 21(2)): Brand-PR reviews with the reason",
    ),
    "political_evasion": (
        "political_evasion",
        "block",
        "high",
        "",
        "political terms of the public lists spelled with Latin letters or digits in the hanzi",
    ),
    "vulgar": (
        "vulgar",
        "block",
        "high",
        "",
        "vulgar, abusive and pornographic language (Art. 21): never published",
    ),
    "vulgar_review": (
        "vulgar_review",
        "review",
        "medium",
        "vulgar",
        "words of the vulgar lists that are also dictionary words: Brand-PR reads the context",
    ),
    "violence_contraband": (
        "violence_contraband",
        "block",
        "high",
        "",
        "violence, terrorism, drugs, weapons, gambling, forged papers: never published",
    ),
    "violence_contraband_review": (
        "violence_contraband_review",
        "review",
        "medium",
        "violence_contraband",
        "words of the contraband lists that are also dictionary words (drug names, 公证处 …)",
    ),
    "advertising": (
        "advertising",
        "review",
        "medium",
        "",
        "advertising and traffic-diversion phrases",
    ),
}
#: where a candidate of a source category goes when it is an ordinary dictionary word
_REVIEW_FILE = {"vulgar": "vulgar_review", "violence_contraband": "violence_contraband_review"}
# What makes a word obscene whatever its context. A term of the vulgar lists without any of these
# (我和姐姐, 妈妈的, 发生关系, 剑侠情缘, 双色球, 新干线) also has an ordinary reading: review.
OBSCENE_CHARS = frozenset("屄屌肏婊")
OBSCENE_WORDS = (
    "做爱",
    "性交",
    "口交",
    "肛交",
    "群交",
    "乱伦",
    "射精",
    "自慰",
    "阳具",
    "龟头",
    "鸡巴",
    "高潮",
    "春药",
    "色情",
    "黄色",
    "成人",
    "三级",
    "一夜情",
    "约炮",
    "强暴",
    "性爱",
    "调教",
    "处女",
    "开苞",
    "破处",
    "情色",
    "激情",
    "夜情",
    "诱惑",
    "上门",
    "种子",
    "色片",
    "东京热",
    "少女",
    "av",
    "porn",
    "sex",
    "fuck",
    "操你",
    "操我",
    "干你",
    "傻逼",
    "你妈",
    "他妈",
)
#: houbb/sensitive-word's tag for drugs and precursor chemicals
DRUG_TAG = "houbb:1"
# characters of chemical nomenclature (呋塞米, 氯胺酮, 硝酸甘油): a drug or chemical name
CHEMICAL_CHARS = frozenset(
    "胺酮醇酚嗪醚酯烷烯炔苯酰肼腈吡啶唑哌嘧呋噻啉喹萘砜胍肟氰氯氟溴碘硝磷硫汞砷铊"
)
_HAND_FILES = (
    "state_secret",
    "state_secret_words",
    "commercial_secret",
    "commercial_secret_words",
    "strategy",
    "reform",
    "sensitive",
)
# Latin letters or digits standing in for hanzi (共chang党, 十8大, 政f): a disguise
_MIXED_RE = re.compile(
    r"[\u4e00-\u9fff][a-z0-9]{1,8}[\u4e00-\u9fff]|^[a-z]{1,2}[\u4e00-\u9fff]|[\u4e00-\u9fff][a-z]{1,2}$"
)
# The political lists also hold weapon ads (军刀批发qq, 出售军用手枪): contraband ads, blocked
_SALE_RE = re.compile(r"出售|批发|供应|销售|专卖|提供|买卖|代购|订购|直销|qq|tel")


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
                out[cat].setdefault(word.strip(), set()).add(f"houbb:{tag.strip()}")
    for fname, cat in KONSHENG_FILES.items():
        for term in _read_lines(data / "lexicons/konsheng-Sensitive-lexicon" / fname):
            out[cat].setdefault(term, set()).add("konsheng")
    return out


def _everyday(term: str, freq: dict[str, int]) -> bool:
    limit = MAX_JIEBA_FREQ_TWO_CHARS if len(term) == 2 else MAX_JIEBA_FREQ
    return freq.get(term, 0) >= limit


def candidates(data: Path) -> dict[str, list[str]]:
    """Steps 1-3: candidate terms by source category, before the corpus pass."""
    import jieba

    from screening.lexicon import LexiconError, _check_term
    from screening.views import canonical

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq = jieba.dt.FREQ
    collected = collect(data)
    assigned: dict[str, str] = {}
    for cat in PRIORITY:
        st = {
            "collected": len(collected[cat]),
            "short_or_long": 0,
            "latin_or_number": 0,
            "everyday": 0,
        }
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
            assigned.setdefault(term, cat)
        for term in HAND_KEEP[cat] + (HAND_REVIEW if cat == "violence_contraband" else ()):
            assigned.setdefault(term, cat)
        logger.info("%s: %s", cat, st)
    result: dict[str, list[str]] = {c: [] for c in PRIORITY}
    for term, cat in assigned.items():
        result[cat].append(term)
    return {c: sorted(v) for c, v in result.items()}


@dataclass
class TermHits:
    """Every hit of one term in the clean corpora: counts by (corpus, view, level)."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    example: str = ""

    @property
    def ordinary(self) -> int:
        """Hits that would be findings (not downgraded by a boundary rule)."""
        return sum(n for (_, _, level), n in self.counts.items() if level == "hit")

    def corpora(self) -> list[str]:
        """Corpora with at least one finding-level hit."""
        return sorted({c for (c, _, level) in self.counts if level == "hit"})

    def summary(self) -> str:
        """``corpus:view=n`` (``~n`` for hits the boundary rules already downgrade)."""
        parts = []
        for (corpus, view, level), n in sorted(self.counts.items()):
            parts.append(f"{corpus}:{view}={'~' if level == 'warn' else ''}{n}")
        return " ".join(parts)


def corpus_hits(
    lexicons: Sequence[Lexicon], clean: Path, half: str = "all"
) -> dict[tuple[str, str], TermHits]:
    """Step 4's measurement: (lexicon name, term) → its hits in every clean corpus and view,
    with the same matcher and boundary rules as the screener (combination rules are counted
    under their rule id)."""
    from screening.detectors import combination, terms
    from screening.matcher import LexiconMatcher
    from screening.views import build_views

    matcher = LexiconMatcher(lexicons)
    out: dict[tuple[str, str], TermHits] = {}
    for folder in sorted(p for p in clean.iterdir() if (p / "text.txt").is_file()):
        docs = [d for d in folder.joinpath("text.txt").read_text(encoding="utf-8").splitlines()]
        docs = [d for d in docs if d.strip()]
        if half == "first":  # a held-out check: curate on the first half, measure the second
            docs = docs[: len(docs) // 2]
        for doc in docs:
            views = build_views(doc)
            hits = matcher.match(views)
            found = terms.scan("content", views, lexicons, (), hits)
            found += combination.scan("content", doc, lexicons, hits)
            for f in found:
                lex = str(f.evidence.get("lexicon"))
                term = str(f.evidence.get("term") or f.rule.split(":", 2)[2])
                th = out.setdefault((lex, term), TermHits())
                level = "warn" if f.evidence.get("downgraded") else "hit"
                view = str(f.evidence.get("view", "rule"))
                key = (folder.name, view, level)
                th.counts[key] = th.counts.get(key, 0) + 1
                if level == "hit" and not th.example:
                    lo = max(0, f.start - 12)
                    th.example = f"{folder.name}: …{doc[lo : f.end + 12]}…"
    return out


def decide(
    source: str, term: str, hits: TermHits | None, tags: frozenset[str] = frozenset()
) -> tuple[str | None, str]:
    """Step 4's rule for one public-list term of ``source`` category: the file it goes to
    (``None``: dropped) and why, in words Brand-PR can read. Classes, not lines:

    * found in ordinary prose (a finding-level hit in any clean corpus) → dropped, except the
      hand-kept core, which stays where its category puts it;
    * political → review (Art. 21(2)); spelled with Latin letters or digits inside the hanzi
      → political_evasion (block: a disguise);
    * drugs and chemicals (houbb tag 1, or a name in chemical nomenclature) named without an
      offer (呋塞米, 麻黄素) → review;
    * two-character terms with no obscene or contraband character (人妻, 男奴, 卖车) → review;
    * contraband that is a jieba dictionary word (公证处, 呋塞米, 海洛因) → review: names that
      news and encyclopedias use; vulgar dictionary words without an obscene character
      (新干线, 双色球, 喷射器) and other vulgar terms with no obscene character or word
      (我和姐姐, 妈妈的) → review;
    * everything else keeps its category's action.
    """
    from screening.segment import is_word
    from screening.views import canonical

    key = canonical(term).text.strip()
    if term in HAND_REVIEW:
        return "violence_contraband_review", "named in crime news (缴获海洛因): review; ads block"
    hand = term in HAND_KEEP.get(source, ())
    n = hits.ordinary if hits else 0
    if n and not hand:
        where = ", ".join(hits.corpora()) if hits else ""
        return None, f"dropped: occurs in ordinary prose ({n}x in {where})"
    seen = f" (in clean prose {n}x: kept by hand, see README)" if n else ""
    if source == "political":
        if _SALE_RE.search(key):
            return "violence_contraband", "a sales ad in the political list (weapons): contraband"
        if _MIXED_RE.search(key):
            return "political_evasion", "a disguised spelling (Latin letters or digits in hanzi)"
        return "political", "Art. 21(2) sensitive current affairs: Brand-PR review" + seen
    if (
        source == "violence_contraband"
        and not hand
        and (DRUG_TAG in tags or not CHEMICAL_CHARS.isdisjoint(key))
        and not any(w in key for w in _AD_MARKERS)
    ):
        return _REVIEW_FILE[source], "a drug or chemical named, nothing offered (呋塞米): review"
    if (
        source == "violence_contraband"
        and not hand
        and _ordinary_phrase(key)
        and not any(w in key for w in _AD_MARKERS)
    ):
        return _REVIEW_FILE[source], "common words (出售器官, 炸弹袭击): news uses the phrase"
    if source == "violence_contraband" and not hand and is_word(key):
        return _REVIEW_FILE[source], "a dictionary word (drug, chemical, weapon, document name)"
    if (
        source in _REVIEW_FILE
        and not hand
        and len(key) == 2
        and (OBSCENE_CHARS | _CRUDE_CHARS | _CONTRABAND_CHARS).isdisjoint(key)
    ):
        return _REVIEW_FILE[source], "two characters, nothing obscene or contraband (人妻, 卖车)"
    if source == "vulgar" and not hand and _ordinary_phrase(key):
        return _REVIEW_FILE[source], "common words, nothing obscene: has an ordinary reading"
    if source == "vulgar" and not hand and is_word(key) and OBSCENE_CHARS.isdisjoint(key):
        return _REVIEW_FILE[source], "a dictionary word with an ordinary reading: review in context"
    if source in _REVIEW_FILE and term in HAND_ORDINARY:
        return _REVIEW_FILE[source], "an ordinary word jieba does not know (色域, 色戒): review"
    if source in _REVIEW_FILE and not hand and _ordinary_reading(key, source):
        return _REVIEW_FILE[source], "reads as ordinary words (他|奶奶, 女|公关, 卖|软件): review"
    if hand:
        return source, "hand-kept core term: never published" + seen
    return source, "kept: not found in clean prose"


# crude in a phrase (插穴, 找逼操), ordinary in a dictionary word (刑讯逼供, 操场, 射击)
_CRUDE_CHARS = frozenset("插穴逼操射色淫奸妓嫖娼骚乳阴裸屁艳肉奶胸臀性")
# an offer or a trade: a contraband phrase holding one of these is an advertisement (blocks)
_AD_MARKERS = (
    "出售",
    "销售",
    "供应",
    "批发",
    "办理",
    "代办",
    "专办",
    "专做",
    "转让",
    "专售",
    "专卖",
    "提供",
    "代购",
    "代开",
    "出租",
    "直销",
    "价格",
    "货",
    "购",
    "联系",
    "qq",
    "微信",
    "电话",
    "买卖",
    "出卖",
    "制作",
    "制造",
    "自制",
    "代理",
    "假",
    "赌",
    "娱乐",
    "网",
    "证件",
)
# what a two-character contraband term needs to be one (冰毒, 枪支, 赌场)
_CONTRABAND_CHARS = frozenset("枪弹炮炸雷毒药麻赌博假证钞币屄屌肏婊")
_FUNCTION_WORDS = frozenset("的了和与在是我你他她它们着把被给从对向也都就很")
#: a phrase of common words: each of its jieba words at least this frequent (我|和|姐姐)
COMMON_WORD_FREQ = 300


def _ordinary_phrase(key: str) -> bool:
    """Hanzi only, made of common dictionary words, with no obscene character or word."""
    import jieba

    if not all("\u4e00" <= c <= "\u9fff" for c in key):
        return False
    obscene = (*OBSCENE_WORDS, *_EXPLICIT_WORDS)
    if not (OBSCENE_CHARS | _CRUDE_CHARS).isdisjoint(key) or any(w in key for w in obscene):
        return False
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq = jieba.dt.FREQ
    return all(
        freq.get(w, 0) >= COMMON_WORD_FREQ and (len(w) > 1 or w in _FUNCTION_WORDS)
        for w in jieba.cut(key, HMM=False)
    )


# Crude in any word (淫荡, 嫖娼); the other crude characters only as a word of their own or in a
# rare word (性|游戏, 奶子), not inside a common one (奶奶, 操作, 色彩, 射击, 胸怀)
_STRONG_CRUDE = frozenset("淫逼屄嫖娼妓骚撸祼襙")
# sex acts, curses and slurs that jieba splits into innocent-looking words (美女|足交, 日|你|老母,
# 小|日本)
_EXPLICIT_WORDS = (
    "兽交",
    "足交",
    "幼交",
    "狗交",
    "吞精",
    "吸精",
    "中出",
    "潮吹",
    "抽送",
    "交欢",
    "幼女",
    "作爱",
    "阴道",
    "阴茎",
    "自尉",
    "日你",
    "干妳",
    "草拟",
    "杂种",
    "小日本",
    "狗日",
    "咪咪",
    "走光",
    "换妻",
    "性生活",
    "肉体",
    "被干",
    "很紧",
    "插入",
    "黄站",
    "黄网",
    "草榴",
    "有码",
    "无码",
    "修正",
    "楼凤",
    "出台",
    "陪吸",
    "果聊",
)
# contraband in any word (枪支, 毒品, 炸药, 博彩)
_STRONG_CONTRABAND = frozenset("枪弹炮炸雷毒药麻赌钞假")
_CONTRABAND_WORDS = ("博彩", "下注", "投注", "轮盘", "白粉", "包过")
# a trade: a contraband term that offers, sells or buys is an advertisement (批发|砒霜, 卖|肾);
# a common word that merely holds such a character is none (拍卖|官)
_TRADE_CHARS = frozenset("买卖售购订供办做制代货")
_TRADE_WORDS = frozenset(
    (
        "出售",
        "销售",
        "购买",
        "订购",
        "提供",
        "供应",
        "办理",
        "代办",
        "代购",
        "代开",
        "代理",
        "制作",
        "制造",
        "自制",
        "批发",
        "直销",
        "转让",
        "出租",
        "专营",
        "专卖",
        "赚钱",
        "出货",
        "到货",
        "买卖",
        "倒卖",
        "贩卖",
        "收购",
        "求购",
    )
)
#: a word of a term's ordinary reading: at least this frequent in jieba's dictionary
READING_WORD_FREQ = 20
#: longer terms are whole phrases of the lists' spam (妹妹的阴道好紧啊): prose never holds them
#: by accident, so reading them as ordinary words would only let spam through
READING_MAX_CHARS = 4


def _ordinary_reading(key: str, source: str) -> bool:
    """Whether a short term of the ``source`` list also reads as ordinary words in a row, the
    way prose uses them: 他|奶奶, 女|公关, 烟草局, 午夜|场, 护士|证, 潜水|刀, 按摩|小姐.

    At most :data:`READING_MAX_CHARS` hanzi, no obscene character or word, and jieba splits it
    into dictionary words, at least one of two or more characters, where

    * no word holds a strongly crude or a contraband character or word (淫荡, 枪支, 博彩);
    * no word of two or more characters is rare (射钉, 母奶) or holds another crude character
      while being less common than :data:`COMMON_WORD_FREQ` (奶子; 奶奶, 操作 are ordinary);
    * no one-character word is crude (性|游戏, 色|老头) or contraband (消防|枪);
    * a contraband term does not trade (批发|砒霜, 卖|肾, 提供|证件: an advertisement, or too
      close to one to tell without its context).

    Found by screening an outside register (consumer reviews) and ordinary sentences: terms the
    clean corpora never held (女公关, 烟草局, 他奶奶, 职称证) blocked everyday prose.
    """
    import jieba

    if len(key) > READING_MAX_CHARS or not all("\u4e00" <= c <= "\u9fff" for c in key):
        return False
    denied = (*OBSCENE_WORDS, *_EXPLICIT_WORDS, *_CONTRABAND_WORDS)
    if not OBSCENE_CHARS.isdisjoint(key) or any(w in key for w in denied):
        return False
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq = jieba.dt.FREQ
    words = list(jieba.cut(key, HMM=False))
    if all(len(w) == 1 for w in words):
        return False
    if source == "violence_contraband" and any(
        any(t in w for t in _TRADE_WORDS)
        or (not _TRADE_CHARS.isdisjoint(w) and (len(w) == 1 or freq.get(w, 0) < COMMON_WORD_FREQ))
        for w in words
    ):
        return False
    for w in words:
        n = freq.get(w, 0)
        if not (_STRONG_CRUDE | _STRONG_CONTRABAND).isdisjoint(w):
            return False
        if len(w) == 1 and w in _CRUDE_CHARS:
            return False
        crude = not _CRUDE_CHARS.isdisjoint(w)
        if len(w) > 1 and (n < READING_WORD_FREQ or (crude and n < COMMON_WORD_FREQ)):
            return False
    return True


def curate(
    data: Path, hand_dir: Path = OUT_DIR, half: str = "all"
) -> tuple[dict[str, list[str]], list[tuple[str, ...]]]:
    """Curated term lists by file name, and the curation table rows (see the module docs)."""
    from screening.lexicon import load_lexicon

    cands = candidates(data)
    tags = collect(data)
    lexicons: list[Lexicon] = [
        Lexicon(name=cat, category=cat, action="block", terms=tuple(terms))
        for cat, terms in cands.items()
    ]
    figures = Lexicon(name="political_figures", category="state_leader", action="warn")
    lexicons.append(replace(figures, terms=POLITICAL_FIGURES))
    lexicons += [load_lexicon(hand_dir / f"{name}.txt") for name in _HAND_FILES]
    lexicons += [
        Lexicon(name=f"{cat}_rules", category=cat, action="block", rules=_rules(cat))
        for cat in HAND_RULES
        if HAND_RULES.get(cat)
    ]
    hits = corpus_hits(lexicons, data / "clean", half)
    result: dict[str, list[str]] = {name: [] for name in HEADERS}
    rows: list[tuple[str, ...]] = []
    for cat, terms in cands.items():
        for term in terms:
            th = hits.get((cat, term))
            dest, why = decide(cat, term, th, frozenset(tags[cat].get(term, ())))
            if dest is not None:
                result[dest].append(term)
            if th is not None or dest not in (cat, None):
                rows.append(_row(term, cat, th, dest or "(dropped)", why))
    for lex in lexicons[len(cands) :]:
        for term in (*lex.terms, *(r.rule_id for r in lex.rules)):
            th = hits.get((lex.name, term))
            if th is not None:
                why = "hand-written list, reviewed by hand (config/lexicons/README.md)"
                if lex.name == "political_figures":
                    why = "state leader's name: shown (warn), a disguised spelling blocks"
                rows.append(_row(term, lex.name, th, lex.name, why))
    for name, terms in result.items():
        logger.info("%s: %d terms kept", name, len(terms))
    return {k: sorted(v) for k, v in result.items()}, sorted(rows)


def _rules(cat: str) -> tuple[CombinationRule, ...]:
    from screening.lexicon import parse_lexicon

    text = f"# category: {cat}\n# action: block\n" + "\n".join(HAND_RULES[cat])
    return parse_lexicon(text, name=f"{cat}_rules").rules


def _row(term: str, source: str, th: TermHits | None, dest: str, why: str) -> tuple[str, ...]:
    clean = (th.example if th else "").replace("\t", " ").replace("\n", " ")
    return (
        term,
        source,
        dest,
        str(th.ordinary if th else 0),
        th.summary() if th else "",
        why,
        clean,
    )


def write(lists: dict[str, list[str]], out_dir: Path = OUT_DIR) -> None:
    """Write one lexicon file per generated list with its header."""
    srcs = "houbb/sensitive-word@a4fddc0 (Apache-2.0) + konsheng/Sensitive-lexicon@5a8da94 (MIT)"
    for name, terms in lists.items():
        category, action, severity, evasion, description = HEADERS[name]
        head = [
            f"# category: {category}",
            f"# action: {action}",
            f"# severity: {severity}",
            f"# source: {srcs}, curated by screening/curate.py",
            f"# version: {VERSION}",
            "# licence: Apache-2.0 AND MIT (see config/lexicons/README.md)",
            f"# description: {description}",
        ]
        if evasion:
            head.append(f"# evasion_category: {evasion}")
        head.append("# generated file: edit screening/curate.py, not this")
        body = head + terms + list(HAND_RULES.get(name, ()))
        (out_dir / f"{name}.txt").write_text("\n".join(body) + "\n", encoding="utf-8")


def write_figures(out_dir: Path = OUT_DIR) -> None:
    """The political-figures lexicon (hand list: shown as a warning, never blocked; a disguised
    spelling such as 刁近平 blocks as political_evasion)."""
    head = [
        "# category: state_leader",
        "# action: warn",
        "# severity: low",
        "# source: hand-curated list of PRC state leaders (public record), mediagate",
        f"# version: {VERSION}",
        "# licence: CC0-1.0",
        "# description: state leaders' names in their normal register: not a finding that needs"
        " approval (official vocabulary); a disguised spelling is political_evasion",
        "# evasion_category: political_evasion",
        "# generated file: edit screening/curate.py, not this",
    ]
    (out_dir / "political_figures.txt").write_text(
        "\n".join(head + list(POLITICAL_FIGURES)) + "\n", encoding="utf-8"
    )


def write_table(rows: Sequence[tuple[str, ...]], out_dir: Path = OUT_DIR) -> None:
    """The curation table: every term with a hit in the clean corpora, or moved by a class rule."""
    head = (
        "# Curation table written by `python -m screening.curate` (do not edit; deterministic).\n"
        "# hits: corpus:view=n finding-level hits, ~n hits the boundary rules already downgrade.\n"
        "# Terms of the public lists not listed here had no hit and keep their list's action.\n"
        "term\tsource\tgoes_to\tfinding_hits\thits\twhy\texample\n"
    )
    body = "".join("\t".join(r) + "\n" for r in rows)
    (out_dir / TABLE_FILE).write_text(head + body, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Curate and write the default lexicons and the curation table."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m screening.curate")
    ap.add_argument("--data", type=Path, default=SHARED, help="folder with lexicons/ and clean/")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="where the lexicons are written")
    ap.add_argument(
        "--half",
        choices=("all", "first"),
        default="all",
        help="curate on the first half of each corpus only (a held-out check, not for commit)",
    )
    args = ap.parse_args(argv)
    lists, rows = curate(args.data, OUT_DIR, args.half)
    write(lists, args.out)
    write_figures(args.out)
    write_table(rows, args.out)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
