"""layer-tasks: one Python dependency set becomes one AWS Lambda layer."""

__version__ = "0.2.0"
