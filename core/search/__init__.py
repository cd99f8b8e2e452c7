"""Packed binary codes and Hamming search: exact faiss index, large (sharded) index, torch search."""
