import sys

# Absolute: this file is also PyInstaller's entry script. Importing the faceid_gui package first also switches
# ONNX Runtime telemetry off before onnxruntime loads (faceid_gui/__init__.py), in the bundle too.
from faceid_gui.cli import main

sys.exit(main())
