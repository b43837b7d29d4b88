"""Every evasion family of reference/screening.md §5, table-driven, against the default lexicons.

Each case is ``(text, category, span_text)``: a non-warn finding of ``category`` whose span in the
original text is exactly ``span_text`` must be reported. Must-not-fire cases assert the reverse.
"""

from __future__ import annotations

import pytest

from screening.pipeline import Screener


def _found(screener: Screener, text: str) -> set[tuple[str, str]]:
    result = screener.screen({"content": text})
    return {(f.category, f.text) for f in result.findings if f.action != "warn"}


def _check(screener: Screener, text: str, category: str, span: str) -> None:
    """A non-warn finding of ``category`` (``BLOCK``: any blocking finding) covers ``span``."""
    result = screener.screen({"content": text})
    start = text.index(span)
    ok = [
        f
        for f in result.findings
        if f.action != "warn"
        and (f.category == category or (category == "BLOCK" and f.action == "block"))
        and f.start <= start
        and start + len(span) <= f.end
    ]
    assert ok, [(f.category, f.action, f.text) for f in result.findings]


CASE_AND_WIDTH = [
    ("ＦＵＣＫ ＹＯＵ", "vulgar", "ＦＵＣＫ ＹＯＵ"),
    ("Fuck You", "vulgar", "Fuck You"),
    ("访问ＦＡＬＵＮＤＡＦＡ网站", "political", "ＦＡＬＵＮＤＡＦＡ"),
    ("FaLunDaFa好", "political", "FaLunDaFa"),
    ("这是ＰＲＯＪＥＣＴ ＡＵＲＯＲＡ的资料", "commercial_secret", "ＰＲＯＪＥＣＴ ＡＵＲＯＲＡ"),
    ("project aurora 上线", "commercial_secret", "project aurora"),
]
NUMBER_STYLES = [  # contact details written with number styles (family: number styles)
    ("电话①③⑧⓪⓪①③⑧⓪⓪⓪", "pii", "①③⑧⓪⓪①③⑧⓪⓪⓪"),
    ("手机壹叁捌零零壹叁捌零零零", "pii", "壹叁捌零零壹叁捌零零零"),
    ("call ❶❸❽⓿⓿❶❸❽⓿⓿⓿ now", "pii", "❶❸❽⓿⓿❶❸❽⓿⓿⓿"),
    ("号码⑴⑶⑻⑼⑼⑴⑶⑻⑼⑼⑼", "pii", "⑴⑶⑻⑼⑼⑴⑶⑻⑼⑼⑼"),
    ("联系¹³⁸⁰⁰¹³⁸⁰⁰⁰", "pii", "¹³⁸⁰⁰¹³⁸⁰⁰⁰"),
    ("联系➀➂➇➉➀➂➇➉0", "pii", "➀➂➇➉➀➂➇➉0"),
    ("一三八零零一三八零零零是我", "pii", "一三八零零一三八零零零"),
]
LETTER_STYLES = [
    ("Ⓕⓤⓒⓚ ⓨⓞⓤ", "vulgar", "Ⓕⓤⓒⓚ ⓨⓞⓤ"),
    ("⒡⒰⒞⒦ ⒴⒪⒰", "vulgar", "⒡⒰⒞⒦ ⒴⒪⒰"),
    ("𝐟𝐮𝐜𝐤 𝐲𝐨𝐮", "vulgar", "𝐟𝐮𝐜𝐤 𝐲𝐨𝐮"),
    ("ꜰᴜᴄᴋ ʏᴏᴜ!", "vulgar", "ꜰᴜᴄᴋ ʏᴏᴜ"),
    ("🅵🆄🅲🅺 🆈🅾🆄", "vulgar", "🅵🆄🅲🅺 🆈🅾🆄"),
    ("𝒇𝒂𝒍𝒖𝒏𝒅𝒂𝒇𝒂", "political", "𝒇𝒂𝒍𝒖𝒏𝒅𝒂𝒇𝒂"),
]
INSERTION = [  # symbols, spaces, emoji, zero-width characters inside words
    ("修炼法\u200b轮\u200c功", "political_evasion", "法\u200b轮\u200c功"),
    ("法 轮 功", "political_evasion", "法 轮 功"),
    ("傻@#￥%逼", "vulgar", "傻@#￥%逼"),
    ("李😀洪😀志", "political_evasion", "李😀洪😀志"),
    ("买冰…毒", "violence_contraband", "冰…毒"),
    ("星-河-计-划", "commercial_secret", "星-河-计-划"),
    ("傻\u2060逼", "vulgar", "傻\u2060逼"),
    ("法\ufeff轮\u00ad大法", "political_evasion", "法\ufeff轮\u00ad大法"),
]
BIDI = [  # U+202E (RLO) with the text stored reversed so that it displays correctly
    ("\u202e功轮法\u202c", "political", "功轮法"),
    ("看\u202e志洪李\u202c的书", "political", "志洪李"),
    ("\u202e逼傻\u202c", "vulgar", "逼傻"),
    ("\u202e划计河星\u202c已启动", "commercial_secret", "划计河星"),
    ("\u202b毒冰\u202c出售", "violence_contraband", "毒冰"),
]
REVERSAL = [
    ("功轮法好", "political_evasion", "功轮法"),
    ("志洪李", "BLOCK", "志洪李"),
    ("划计河星", "commercial_secret", "划计河星"),
    ("法大轮法", "political_evasion", "法大轮法"),
    ("因洛海", "violence_contraband", "因洛海"),
    ("丸头摇", "violence_contraband", "丸头摇"),
]
PINYIN = [  # pinyin, initials and mixed pinyin/hanzi
    ("修炼falungong", "BLOCK", "falungong"),
    ("法lun功", "political_evasion", "法lun功"),
    ("li hong zhi 说", "political", "li hong zhi"),
    ("xinghe计划", "commercial_secret", "xinghe计划"),
    ("星河jihua", "commercial_secret", "星河jihua"),
    ("f轮g", "political_evasion", "f轮g"),
    ("xh计划启动", "commercial_secret", "xh计划"),
    ("ㄈㄚ ㄌㄨㄣ ㄍㄨㄥ", "political", "ㄈㄚ ㄌㄨㄣ ㄍㄨㄥ"),
]
HOMOPHONES = [  # same pinyin, other characters: reviewed, not blocked
    ("发仑功", "political", "发仑功"),  # (发轮功 blocks: 轮功 is a term of its own)
    ("李红志", "political", "李红志"),
    ("星合计化", "commercial_secret", "星合计化"),
    ("海落因", "violence_contraband_review", "海落因"),
    ("摇头万", "violence_contraband_review", "摇头万"),
]
LOOKALIKES = [
    ("刁近平万岁", "political_evasion", "刁近平"),
    ("刁主席讲话", "political_evasion", "刁主席"),
    ("刁包子", "political_evasion", "刁包子"),
    ("打倒刁近平", "political_evasion", "刁近平"),
    ("冫水毒", "violence_contraband", "冫水毒"),
]
SPLIT_CHARACTERS = [
    ("氵去轮功", "political_evasion", "氵去轮功"),
    ("水去轮功", "political_evasion", "水去轮功"),
    ("木子洪志", "political_evasion", "木子洪志"),
    ("十八子洪志", "political_evasion", "十八子洪志"),
    ("三点水去轮大法", "political_evasion", "三点水去轮大法"),
]
TRADITIONAL_MARTIAN = [
    ("法輪功", "political", "法輪功"),
    ("李洪誌", "political", "李洪誌"),
    ("傻屄", "vulgar", "傻屄"),
    ("海洛因與冰毒出售", "violence_contraband", "冰毒"),
    ("星河計劃", "commercial_secret", "星河計劃"),
    ("天樞項目", "commercial_secret", "天樞項目"),
]
NUMBER_CODES = [  # number codes and date arithmetic
    ("5月35日", "political", "5月35日"),
    ("五月三十五日", "political", "五月三十五日"),
    ("那年4月65日", "political", "4月65日"),
    ("5/35", "political", "5/35"),
    ("5月35号纪念", "political", "5月35号"),
    ("六四事件", "political", "六四事件"),
]
ALIASES = [  # aliases and codenames (roster aliases, leader aliases, unit codenames)
    ("张董出席", "executive", "张董"),
    ("欧阳总致辞", "executive", "欧阳总"),
    ("习 主 席讲话", "political_evasion", "习 主 席"),  # the name typed as it is only warns
    ("星河计划进展", "commercial_secret", "星河计划"),
    ("天枢项目预算", "commercial_secret", "天枢项目"),
    ("张建国主持会议", "executive", "张建国"),
]
CO_OCCURRENCE = [  # combination rules
    ("他因吸食大麻被捕", "violence_contraband_review", "吸食大麻"),
    ("大麻种植基地", "violence_contraband_review", "大麻种植"),
    ("私制枪支", "violence_contraband_review", "私制枪支"),
    ("出售子弹", "violence_contraband", "出售子弹"),
    ("加微信兼职日赚", "advertising", "微信兼职"),
    ("【内部征求意见稿】", "commercial_secret", "内部征求意见稿"),
]
BLIND_SPOTS = [  # adjacent terms, CJK inside Latin runs, repeated characters
    ("法轮功李洪志", "political", "李洪志"),
    ("法轮功李洪志", "political", "法轮功"),
    ("abc法轮功def", "political", "法轮功"),
    ("abc冰毒xyz", "violence_contraband_review", "冰毒"),
    ("傻傻傻逼逼", "vulgar", "傻逼"),
    ("法法法轮轮功功", "political_evasion", "法法法轮轮功功"),
]
CONTACT_AND_IDS = [  # obfuscated contact details and ID numbers
    ("身份证3604 2619 9101 0100 71", "pii", "3604 2619 9101 0100 71"),
    ("身份证叁陆零肆贰陆壹玖玖壹零壹零壹零零柒壹", "pii", "叁陆零肆贰陆壹玖玖壹零壹零壹零零柒壹"),
    ("卡号 6222-0212-3456-7894", "pii", "6222-0212-3456-7894"),
    ("电话138-0013-8000", "pii", "138-0013-8000"),
    ("座机010-12345678", "pii", "010-12345678"),
    ("邮箱ＰＲ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "pii", "ＰＲ＠ＥＸＡＭＰＬＥ．ＣＯＭ"),
    ("加微信：abc_12345", "advertising", "微信：abc_12345"),
    ("ｖｘ: hello2024", "advertising", "ｖｘ: hello2024"),
]

FAMILIES = {
    "case_width": CASE_AND_WIDTH,
    "number_styles": NUMBER_STYLES,
    "letter_styles": LETTER_STYLES,
    "insertion": INSERTION,
    "bidi": BIDI,
    "reversal": REVERSAL,
    "pinyin": PINYIN,
    "homophones": HOMOPHONES,
    "lookalikes": LOOKALIKES,
    "split": SPLIT_CHARACTERS,
    "traditional": TRADITIONAL_MARTIAN,
    "number_codes": NUMBER_CODES,
    "aliases": ALIASES,
    "co_occurrence": CO_OCCURRENCE,
    "blind_spots": BLIND_SPOTS,
    "contact_ids": CONTACT_AND_IDS,
}
ALL_CASES = [
    pytest.param(t, c, s, id=f"{fam}-{i}")
    for fam, cases in FAMILIES.items()
    for i, (t, c, s) in enumerate(cases)
]


def test_every_family_has_five_cases() -> None:
    assert all(len(cases) >= 5 for cases in FAMILIES.values())


@pytest.mark.parametrize(("text", "category", "span"), ALL_CASES)
def test_evasion_is_caught(screener: Screener, text: str, category: str, span: str) -> None:
    _check(screener, text, category, span)


@pytest.mark.parametrize("text", [t for t, _, _ in HOMOPHONES])
def test_homophones_are_reviewed_not_blocked(screener: Screener, text: str) -> None:
    assert screener.screen({"content": text}).decision == "review"


MUST_NOT_FIRE = [
    "路口交通很拥堵",
    "中央空调坏了",
    "这是个大麻烦",
    "岩石样本",
    "咖啡因含量",
    "他在问道",
    "天下无双的产品",
    "尸体解剖课程",
    "小姐姐们",
    "人大代表来访",
    "Disburse the funds",
    "the assistant said hello",
    "grass and class",
    "International Congress",
    "695 billion",
    "title: hello",
    "6月4日发布新版本",
    "我们的网络招聘会",
    "一个北京的公司",
    "验证码已发送",
    "stars align",
    "cpm 指标",
    "sbc 芯片",
    "MB的大小",
    "SSH连接",
    "LTS发行版",
    "共产党员先锋",
    "学习党的二十大精神",
    "今年5月3日",
    "12月31日",
    "2014年1月19日，Linux3.13发布。",
    "种子下载速度很快",
    "性能。游戏",
    "大，麻烦",
    "法律与轮胎功能",
]


@pytest.mark.parametrize("text", MUST_NOT_FIRE)
def test_must_not_block(screener: Screener, text: str) -> None:
    result = screener.screen({"content": text})
    assert result.decision == "pass", [(f.rule, f.text, f.action) for f in result.findings]


# Everyday sentences holding a short term of the public lists that also reads as ordinary words
# (config/lexicons/README.md, "How the public lists were curated"): reviewed at most, never
# blocked. The adversarial rows below them still block.
ORDINARY_SENTENCES = [
    "他奶奶今年八十岁了，身体依然硬朗。",
    "公司新招聘了一名女公关，负责媒体关系。",
    "市烟草局召开全市烟草专卖工作会议。",
    "日领馆发表声明，呼吁侨民注意安全。",
    "影院推出周末午夜场，观众反响热烈。",
    "考生需持护士证参加执业注册。",
    "申报职称需提交学历证、职称证复印件。",
    "潜水员随身携带潜水刀以备不时之需。",
    "拍卖官一锤定音，成交价创新高。",
    "新款显示器的色域覆盖率达到百分之九十五。",
    "李安导演的电影色戒曾获威尼斯金狮奖。",
    "前台小姐电话通知我们房间已经准备好了。",
    "听其他妈妈的推荐买了这本书。",
    # a request for papers, not an offer of them (a contraband trade term after 请, 需, 须 …)
    "本次招聘需提供学历证书和学位证书原件。",
    "办理业务时请提供证件原件。",
    "考生均需提供证件。",
]
STILL_BLOCKED = [
    "日你奶奶的",
    "美女足交视频",
    "深夜撸一发",
    "急需卖肾，价格面议",
    "批发砒霜",
    "在线博彩平台",
    "专业提供证件，价格优惠",  # the same term offered
    "我们提供学历证书",
    "应聘提供证件",  # 应 inside 应聘 asks for nothing
]


@pytest.mark.parametrize("text", ORDINARY_SENTENCES)
def test_ordinary_sentences_are_not_blocked(screener: Screener, text: str) -> None:
    result = screener.screen({"content": text})
    assert result.decision != "block", [(f.rule, f.text, f.action) for f in result.findings]


@pytest.mark.parametrize("text", STILL_BLOCKED)
def test_spam_made_of_ordinary_words_still_blocks(screener: Screener, text: str) -> None:
    result = screener.screen({"content": text})
    assert result.decision == "block", [(f.rule, f.text, f.action) for f in result.findings]


# The skeleton collapses doubled characters (法法轮轮功 → 法轮功). Where the doubled pair is a
# reduplicated word (妈妈, 小小) or the doubled character ends one dictionary word and starts
# the next, the text may be ordinary prose that collapses into a term (其他|妈妈|的 → 他妈的,
# 域名认证|证书 → 认证书): such a match is reviewed, not blocked. Any other doubling is a repeat
# typed to break the term, and still blocks.
DOUBLED = [
    ("服务所签发的证书为域名认证证书", "pass"),  # 认证书 is no longer a term (issue #12 table)
    ("买卖大学学文凭", "review"),  # 大学|学文 → 买卖大学文凭: a human sees it
    ("淫荡小小护士", "review"),  # 小小|小护士
    ("仿真真气枪预订", "review"),  # 仿真|真气; 气枪 alone is reviewed (issue #12)
    ("法法轮轮功", "block"),
    ("法轮轮功", "block"),
    ("修炼法轮功功法", "review"),  # 法轮功 typed as it is: Art. 21(2) review (issue #12)
    ("大麻麻种植", "review"),  # the crime named in news: review (issue #12)
    ("傻傻逼逼", "block"),
    ("听其他妈妈的推荐买了这本书", "review"),  # 其他|妈妈|的 (found in consumer reviews)
    ("他爸爸妈妈的意见", "pass"),  # 妈妈的 alone is no term
    ("他妈妈的", "review"),  # his mother's: ordinary words, a human looks
    ("他他妈妈的的", "block"),  # every character doubled: typed to break 他妈的
    ("他妈的的", "block"),  # the term typed as it is, a particle doubled after it
    ("傻逼逼", "block"),  # 逼逼 is no word: a repeat typed after the term
]


@pytest.mark.parametrize(("text", "decision"), DOUBLED)
def test_doubled_characters_between_words_are_reviewed(
    screener: Screener, text: str, decision: str
) -> None:
    result = screener.screen({"content": text})
    assert result.decision == decision, [(f.rule, f.text, f.action) for f in result.findings]
