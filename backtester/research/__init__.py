"""backtester/research"""
