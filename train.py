"""Train a zoo recipe: `python train.py --recipe context_encoder/builtin_64 --out runs/demo`.

Same options as `keras-inpaint train`.
"""

import sys

from keras_inpaint.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
