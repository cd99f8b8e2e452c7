"""Foundations every layer uses: errors, events, text, atomic writes, bounded reads, state packing."""
