"""Losses (UltraGCN constraints, PamC): to come."""
