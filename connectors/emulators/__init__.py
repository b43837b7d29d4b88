"""Local emulators of the platforms' real APIs, for tests and the demo.

Each module exposes ``make_app(**options) -> aiohttp.web.Application``. Every emulator app
carries the fault switches of :mod:`connectors.emulators.faults` and a small control surface
under ``/_emulator/`` (faults, published items, counters) so tests and the demo can drive it
from another process.
"""
