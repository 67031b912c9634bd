"""backtester/data"""
