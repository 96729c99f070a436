"""Stage B and C: hint extraction, the hint bank, and retrieval."""
