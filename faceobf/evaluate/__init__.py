"""Evaluation: how much identity survives each obfuscation method, for machines and for people."""
