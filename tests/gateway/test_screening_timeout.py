"""Screening that takes longer than ``screening.screen_timeout_s`` answers 503 and publishes
nothing (fail closed); a screening that finishes in time answers its result."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence

import pytest
import redis.asyncio as aredis

from gateway.errors import ServiceUnavailable
from gateway.keys import Keys
from gateway.screening_service import ScreeningService
from gateway.settings import Settings
from screening.lexicon import Lexicon
from screening.pipeline import Screener, ScreenResult


@dataclasses.dataclass(frozen=True)
class SlowScreener(Screener):
    """The real screener, after a pause (a post that takes too long to screen)."""

    pause_s: float = 0.0

    def screen(self, fields: Mapping[str, str]) -> ScreenResult:
        time.sleep(self.pause_s)
        return super().screen(fields)

    def with_lexicons(self, extra_lexicons: Sequence[Lexicon]) -> Screener:
        return _slow(super().with_lexicons(extra_lexicons), self.pause_s)


def _slow(screener: Screener, pause_s: float) -> SlowScreener:
    return SlowScreener(
        screener.lexicons,
        screener.rules,
        screener.roster,
        screener.classifier,
        screener.detectors,
        screener._base_count,
        screener._base_matcher,
        company=screener.company,
        pause_s=pause_s,
    )


@pytest.mark.parametrize(("pause_s", "times_out"), [(0.0, False), (3.0, True)])
async def test_screening_over_its_time_limit_fails_closed(
    redis: aredis.Redis, settings: Settings, screener: Screener, pause_s: float, times_out: bool
) -> None:
    limited = dataclasses.replace(
        settings, screening=dataclasses.replace(settings.screening, screen_timeout_s=1.5)
    )
    service = ScreeningService(limited, redis, Keys(), prebuilt=_slow(screener, pause_s))
    await service.start()
    try:
        fields = {"title": "华东分公司年度员工技能大赛", "content": "<p>董事长王建国出席</p>"}
        if times_out:
            with pytest.raises(ServiceUnavailable) as info:
                await service.screen(fields)
            assert info.value.extra.get("reason") == "screening_timeout"
        else:
            result = await service.screen(fields)
            assert result == screener.screen(fields)
    finally:
        await service.close()
