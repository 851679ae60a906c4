"""The engine loop: commands in, state + events out, one instance at a time."""
