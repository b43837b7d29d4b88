"""Screening of Chinese text for confidential and sensitive content (pure, synchronous)."""
