"""Contracts and plumbing shared by the four pipeline stages."""
