"""Torch building blocks: MLP encoder/decoder and the autoencoder module."""

from codings.nn.layers import ACTIVATIONS, build_mlp, dense_stack, init_linear, linear_layers
from codings.nn.module import AutoEncoderModule, Output

__all__ = ["ACTIVATIONS", "AutoEncoderModule", "Output", "build_mlp", "dense_stack",
           "init_linear", "linear_layers"]
