"""Figures: ``base`` (style, save, label, grid, inline preview), ``paper1``, ``paper2``, ``features``
(notebook 02), ``study`` (notebook 08), ``explore`` (the layer browser) and ``readme`` (README's preview strip).
"""
