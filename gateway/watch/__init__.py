"""Bypass detection (Art. 19, 22; docs/bypass.md): what happened on the platforms without the
gateway. A reconciler per account lists what the platform holds and compares it with what the
gateway published; the differences become alerts (:mod:`gateway.watch.alerts`)."""
