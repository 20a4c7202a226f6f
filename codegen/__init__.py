"""The code generator: spec/ → generated/ (`python -m codegen`)."""
