"""Training and reproduction scripts (run as python -m training.<name>)."""
