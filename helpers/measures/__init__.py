"""Per-image measures, one function of one image each (``colour``, ``compression``, ``clutter``, ``spectra``,
``aesthetics`` and its parts), and the cached parallel table of many images (``table``, ``separation``).
None of them imports torch except ``aesthetics_cnn``, the one that runs a network (AlexNet's conv1).
"""
