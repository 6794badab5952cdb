"""Rating studies: the ratings format (``ratings``), importers of experiment data (``importers``), the
simulator and power (``simulate``), the statistics (``stats``, ``effects``, ``density``, ``mixed``), and
the jsPsych experiment (``experiment``, ``browser``). None of them imports torch.
"""
