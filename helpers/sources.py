"""Every file the project downloads: where from, under what name, and the hash it is checked against.

A hash is *pinned* here only where it can be cited (a publisher's checksum, torchvision's file-name prefix,
a public catalog). Every other file has its sha256 recorded beside it at first download and verified on
every later load (:mod:`helpers.download`).

==========================  ==================================  ========================================
what                        where (first URL)                   check
==========================  ==================================  ========================================
inception5h (DeepDream)     storage.googleapis.com              sha256 recorded at first download
BigGAN-deep-256 weights     s3 ``models.huggingface.co``        sha256 pinned (a public installer catalog)
BigGAN-deep-256 config      s3 ``models.huggingface.co``        sha256 pinned (the same catalog)
ResNet-152, AlexNet         download.pytorch.org                sha256 prefix in torchvision's file name
the study's start images    raw.githubusercontent.com (CVRL)    sha256 pinned (checked against the repo)
ArtBench-10                 artbench.eecs.berkeley.edu          md5 its loader publishes (CIFAR-python);
                                                                sha256 recorded for the other files
==========================  ==================================  ========================================
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightSpec:
    """One network's weights (or config) file: download locations, file name, pin and what a good file is.

    Used in: notebook 00 (setup-check.json) through :func:`helpers.nets.models.status`; notebooks 01
        (p1-dream-contact-sheet.png, p1-dream-octaves.png), 05 and 06 through :func:`helpers.nets.models.load`;
        notebook 02 through :func:`helpers.measures.table.table` (measure group ``"aesthetics"``); notebook 07
        through :class:`helpers.search.gram.GramEncoder`.
    """

    name: str
    urls: tuple  # download locations, tried in order (helpers.download.download_first)
    filename: str
    sha256: str | None = None  # full pin, only where citable
    sha256_prefix: str | None = None  # e.g. torchvision's file-name prefix
    note: str = ""
    expected: str = ""  # what a good file is, for error messages
    size: str = ""  # expected size, where it is known (with its source)

    @property
    def url(self) -> str:
        """The first download location."""
        return self.urls[0]

    @property
    def env_var(self) -> str:
        """The environment variable that points at a local copy (``NA_WEIGHTS_<NAME>``)."""
        return "NA_WEIGHTS_" + self.name.upper().replace("-", "_")


# BigGAN-deep-256: both files are pinned by the sha256 that a public third-party model-installer catalog
# states for them (catalog version bundle-b-2026-08-07), which downloads them from these same URLs and loads
# the weights with strict=True: biggan-deep-256-pytorch_model.bin 5900ef40...485bc5 (234,411,737 bytes) and
# biggan-deep-256-config.json edd106f6...bec677 (715 bytes). The config's pin is also the sha256 of the
# package's own constant, pytorch_pretrained_biggan.convert_tf_to_pytorch.BigGAN256.to_json_string(), the
# config the published weights were converted with (tests/test_models.py checks it offline).
BIGGAN_WEIGHTS_SHA256 = "5900ef4065047e3aa0d1b66197b7f2664dceb59b27080e414ad57e203c485bc5"
BIGGAN_CONFIG_SHA256 = "edd106f65ff28ee1638491a978cfa6bc50dfa0344aab70749a7b8eb08bbec677"

WEIGHTS = {
    "inception5h": WeightSpec(
        "inception5h",
        ("https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip",),
        "inception5h.zip",
        note="Google's 2015 DeepDream graph (tensorflow_inception_graph.pb inside the zip). Also accepted via path=: "
             "the extracted .pb, torch-lucent's inception5h.pth (140 of the 144 layers: no head0/head1 bottlenecks), or a converted state dict.",
        expected="Google's inception5h.zip, the TensorFlow GraphDef tensorflow_inception_graph.pb inside it, "
                 "torch-lucent's inception5h.pth or a file converted by helpers.nets.graphdef",
    ),
    "biggan-deep-256": WeightSpec(
        "biggan-deep-256",
        # pytorch_pretrained_biggan 0.1.1, model.py, PRETRAINED_MODEL_ARCHIVE_MAP['biggan-deep-256'] (the
        # package's only location; tests/test_models.py checks the two agree). No maintained second copy with
        # public metadata was found (the model hub holds osanseviero/BigGAN-deep-128 only); add mirrors here.
        ("https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-pytorch_model.bin",),
        "biggan-deep-256-pytorch_model.bin",
        sha256=BIGGAN_WEIGHTS_SHA256,
        note="pytorch_pretrained_biggan's converted DeepMind TF-Hub weights; its config.json is fetched and cached beside them.",
        expected="pytorch_pretrained_biggan's biggan-deep-256 pytorch_model.bin: a torch.save'd state dict of the "
                 "generator built from the BigGAN-deep-256 config (weight_orig, weight_u and weight_v of every "
                 "spectrally normalised layer, running_means/running_vars of every batch norm)",
        # the catalog's byte count; the number count is computed from the BigGAN256 config (tests/test_models.py)
        size="234,411,737 bytes, about 234.5 MB (58,573,185 float32 numbers)",
    ),
    "resnet152": WeightSpec(
        "resnet152",
        ("https://download.pytorch.org/models/resnet152-394f9c45.pth",),  # torchvision ResNet152_Weights.IMAGENET1K_V1.url
        "resnet152-394f9c45.pth",
        sha256_prefix="394f9c45",  # torchvision's file names carry the first hex digits of the sha256
        note="torchvision ResNet152_Weights.IMAGENET1K_V1.",
        expected="torchvision's resnet152-394f9c45.pth: a torch.save'd state dict of torchvision.models.resnet152",
        size="230.4 MB (torchvision's ResNet152_Weights.IMAGENET1K_V1.meta['_file_size'])",
    ),
    # URL and file name from torchvision/models/alexnet.py (AlexNet_Weights.IMAGENET1K_V1); the file name
    # carries the first 8 hex digits of the file's sha256, as torch.hub checks them.
    "alexnet": WeightSpec(
        "alexnet",
        ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),  # torchvision AlexNet_Weights.IMAGENET1K_V1.url
        "alexnet-owt-7be5be79.pth",
        sha256_prefix="7be5be79",
        note="torchvision AlexNet_Weights.IMAGENET1K_V1 (conv1 feeds the CNN measures of helpers.measures.aesthetics_cnn).",
        expected="torchvision's alexnet-owt-7be5be79.pth: a torch.save'd state dict of torchvision.models.alexnet",
        size="233.1 MB (torchvision's AlexNet_Weights.IMAGENET1K_V1.meta['_file_size'])",
    ),
}
"""The networks' weights files: name (``helpers.nets.models.load``) -> :class:`WeightSpec`."""

# The config.json pytorch_pretrained_biggan publishes beside the weights:
# pytorch_pretrained_biggan 0.1.1, model.py, PRETRAINED_CONFIG_ARCHIVE_MAP['biggan-deep-256'] (checked by a test).
# It is downloaded and cached with the weights (same download code, pinned sha256). Offline, the package's own
# constant pytorch_pretrained_biggan.convert_tf_to_pytorch.BigGAN256 (the same bytes as JSON) is used.
BIGGAN_CONFIG = WeightSpec(
    "biggan-deep-256-config",
    ("https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-config.json",),
    "biggan-deep-256-config.json",
    sha256=BIGGAN_CONFIG_SHA256,
    note="pytorch_pretrained_biggan's BigGANConfig of BigGAN-deep-256, as JSON.",
    expected="a JSON object with BigGANConfig's fields (output_dim, z_dim, class_embed_dim, channel_width, "
             "num_classes, layers, attention_layer_position, eps, n_stats)",
    size="715 bytes",
)

# The study's five start images: public repository CVRL/human-reactions-to-deepdream-samples, branch
# main (the study's Image_Generation.py opens gaussianNoise800x800_{i+1}.png for its i-th image set);
# sha256 pinned in the issue "Real artifacts" (checked against the files of the fetched repository).
STUDY_START_URL = "https://raw.githubusercontent.com/CVRL/human-reactions-to-deepdream-samples/main/{name}"
STUDY_START_IMAGES = {
    "gaussianNoise800x800_1.png": "b40adb18962da35acd5f6d627d47dc9bf785a1459f7a1f5477e4aac65a438f3b",
    "gaussianNoise800x800_2.png": "bf000a19555bf5ebcb99b33912e91aa9e4c152e84e2c1ccbd84431cb940ac081",
    "gaussianNoise800x800_3.png": "05168016d6230b587b7647e4d75cc05cb6109c6b09d72d2ca07216e86c36372e",
    "gaussianNoise800x800_4.png": "4c9100125eb473ea1678ff9579183154403da2a730bafec8228fa4c32c8f1c86",
    "gaussianNoise800x800_5.png": "2b0fcdbcc1ef76d25497b09021ae0a45e466415fb3980f58d952a16a4741bb50",
}
"""The study's start images: file name -> sha256 (seed k takes file k + 1)."""

_ARTBENCH = "https://artbench.eecs.berkeley.edu/files/"  # README of liaopeiyuan/artbench @ 57fbb92
ARTBENCH_URLS = {
    "metadata": _ARTBENCH + "ArtBench-10.csv",
    "cifar-python": _ARTBENCH + "artbench-10-python.tar.gz",
    "cifar-binary": _ARTBENCH + "artbench-10-binary.tar.gz",
    "imagefolder": _ARTBENCH + "artbench-10-imagefolder.tar",
    "imagefolder-split": _ARTBENCH + "artbench-10-imagefolder-split.tar",
}
"""ArtBench-10's files, by layout: the locations its README gives."""
# md5 published in artbench.py (ArtBench10.tgz_md5, train_list, test_list, meta); none for the other files
CIFAR_PYTHON_MD5 = {
    "artbench-10-python.tar.gz": "9df1e998ee026aae36ec60ca7b44960e",
    "data_batch_1": "c2e02a78dcea81fe6fead5f1540e542f",
    "data_batch_2": "1102a4dcf41d4dd63e20c10691193448",
    "data_batch_3": "177fc43579af15ecc80eb506953ec26f",
    "data_batch_4": "566b2a02ccfbafa026fbb2bcec856ff6",
    "data_batch_5": "faa6a572469542010a1c8a2a9a7bf436",
    "test_batch": "fa44530c8b8158467e00899609c19e52",
    "meta": "5bdcafa7398aa6b75d569baaec5cd4aa",
}
"""The md5 of ArtBench-10's CIFAR-python archive and its members, as the dataset's own loader publishes them."""
