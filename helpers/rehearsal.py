"""Rehearsal files: each network and dataset in its *real on-disk format*, holding stand-in weights.

Pretrained weights and ArtBench-10 cannot be downloaded on CI or in this workplace, so the
paper profile's loading code would otherwise never meet a file it did not write itself. The
writers here produce files in the layouts the real artifacts have (Google's
``inception5h.zip`` GraphDef, torch-lucent's ``inception5h.pth``, pytorch_pretrained_biggan's
``pytorch_model.bin`` + ``config.json``, torchvision's ``resnet152-394f9c45.pth``, ArtBench-10's
archives and CSV), made through the authoritative code path where one exists. The weights in
them are seeded random stand-ins: everything made from them is labelled STAND-IN.

Used by the ``rehearsal`` test tier, the ``class`` profile in CI, and the benchmarks.
"""
from __future__ import annotations


# === inception5h (GraphDef zip, lucent .pth) ==================================================
# (helpers.rehearsal: inception5h writers go here)



# === BigGAN-deep-256 and ResNet-152 ============================================================
# (helpers.rehearsal: biggan / resnet writers go here)



# === ArtBench-10 (CIFAR-python, CIFAR-binary, ImageFolder, CSV) ===============================
# (helpers.rehearsal: artbench writers go here)



# === all at once ==============================================================================
# (helpers.rehearsal: write_all goes here)
