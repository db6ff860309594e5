"""Multilingual hybrid search over news articles: Whoosh keywords + FAISS vectors, fused."""

__version__ = "0.1.0"
