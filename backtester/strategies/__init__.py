"""Built-in strategies. Each module defines ``STRATEGY`` or ``STRATEGIES`` (see backtester/strategy.py)."""
