"""The version of minilstm (one place: the package, the model file and the CLI read it here)."""
__version__ = "0.1.0"
