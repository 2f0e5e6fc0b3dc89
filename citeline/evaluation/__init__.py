"""Measuring Citeline: retrieval quality on BEIR folders and answer quality on QA sets."""
