"""Making the stimuli: DeepDream on InceptionV1 (``dream``, ``dream_jobs``, ``start_images``, ``threads``) and
BigGAN-deep-256 weight surgery (``biggan``, ``biggan_gallery``, ``biggan_distances``).
"""
