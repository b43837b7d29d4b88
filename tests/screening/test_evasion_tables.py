"""The evasion tables in screening/data/ are what the generator makes from the reference tables
(byte for byte), and their rows say what the views rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.evasion_tables import DATA_DIR, SHARED_TABLES, read_table, write_evasion_tables

NAMES = ("confusables.tsv", "shape.tsv", "chaizi.tsv", "polyphonic.tsv")


@pytest.mark.skipif(
    not SHARED_TABLES.is_dir(), reason=f"reference tables not present at {SHARED_TABLES}"
)
def test_rebuilding_the_tables_gives_the_committed_files(tmp_path: Path) -> None:
    write_evasion_tables(SHARED_TABLES, tmp_path)
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", NAMES)
def test_every_table_carries_its_attribution(name: str) -> None:
    head = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()[:6]
    assert any("Licen" in line or "licensed" in line for line in head), head


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("confusables.tsv", ["а", "a"]),  # Cyrillic
        ("confusables.tsv", ["ロ", "口"]),  # katakana
        ("shape.tsv", ["笫", "第"]),
        ("chaizi.tsv", ["计", "言 十", "*讠 十"]),
        ("polyphonic.tsv", ["重", "zhong,chong"]),
    ],
)
def test_table_rows(name: str, row: list[str]) -> None:
    assert row in read_table(name)


def test_real_hanzi_and_ascii_are_never_folded_as_confusables() -> None:
    for src, _ in read_table("confusables.tsv"):
        assert not src.isascii()
        assert not 0x4E00 <= ord(src) <= 0x9FFF
