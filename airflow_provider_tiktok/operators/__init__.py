"""Operators of the TikTok provider."""
