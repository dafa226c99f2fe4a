"""Single-view semantic scene reconstruction (SemanticSVR): scene space, data, loss shaping, Keras networks, compression, decoding."""
