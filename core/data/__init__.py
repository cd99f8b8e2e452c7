"""Dataset loaders (one file per official layout), image decoding, transforms and the demo set."""
