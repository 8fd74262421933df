"""Serving: exports to SavedModel and ONNX, and the design engine that runs on them."""
