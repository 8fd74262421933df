"""Train the wcgan generator with its measured defaults and save it.

Same as `hea-zoo train --model wcgan`; every option of that command works here:

    python examples/train_wcgan.py                                   # bundled data -> wcgan.keras
    python examples/train_wcgan.py --data my.csv --composition-column formula \\
        --properties shear_modulus,fracture_toughness --out my_wcgan.keras
"""

import sys

from hea_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--model", "wcgan", *sys.argv[1:]]))
