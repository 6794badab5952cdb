"""The networks: loading and the stand-in rule (``models``), layer names without torch (``layers``), and
InceptionV1 as Google's DeepDream graph (``inception``, ``inception_ops``, ``graphdef``).
"""
