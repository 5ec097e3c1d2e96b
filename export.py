"""Export a run for TF Serving: `python export.py runs/demo --base exports`.

Same options as `keras-inpaint export`.
"""

import sys

from keras_inpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
