"""The nearest painting: ArtBench-10 corpora (``artbench``), Gram-matrix features of ResNet-152 (``gram``),
exact search and the compact index (``index``).
"""
