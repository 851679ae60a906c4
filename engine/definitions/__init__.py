"""Deploying definitions and the in-process cache of their compiled graphs."""
