"""Tools for tests and benchmarks: ``rehearsal`` writes the real file formats holding stand-in weights.
"""
