import sys

from faceid_gui.cli import main  # absolute: this file is also PyInstaller's entry script

sys.exit(main())
