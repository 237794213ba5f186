"""Torch building blocks: MLP, sequence encoders/decoders and the autoencoder module."""

from codings.nn.layers import ACTIVATIONS, build_mlp, dense_stack, init_linear, linear_layers
from codings.nn.module import AutoEncoderModule, Output
from codings.nn.sequence import SEQUENCE_ARCHITECTURES, build_conv1d, build_recurrent

__all__ = ["ACTIVATIONS", "SEQUENCE_ARCHITECTURES", "AutoEncoderModule", "Output",
           "build_conv1d", "build_mlp", "build_recurrent", "dense_stack", "init_linear",
           "linear_layers"]
