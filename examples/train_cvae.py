"""Train the cvae generator with its measured defaults and save it.

Same as `hea-zoo train --model cvae`; every option of that command works here:

    python examples/train_cvae.py                                   # bundled data -> cvae.keras
    python examples/train_cvae.py --data my.csv --composition-column formula \\
        --properties shear_modulus,fracture_toughness --out my_cvae.keras
"""

import sys

from hea_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--model", "cvae", *sys.argv[1:]]))
