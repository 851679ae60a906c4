"""Thin views, one module per resource family: check the caller, validate the shape, call one
action (or one read query), shape the answer."""
