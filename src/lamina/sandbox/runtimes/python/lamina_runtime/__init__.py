"""lamina's own runtime loop for the managed `python3.X` runtimes (stdlib only, Python 3.9+).

It reaches the worker over a private channel (an inherited socket speaking lamina's frames)
instead of HTTP; what the function sees (handler contract, context object, errors, logs,
environment, sys.path) is Lambda's.
"""
