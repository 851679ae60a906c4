"""Jobs: waking long-polling workers (notify.py)."""
