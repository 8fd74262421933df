"""Train the cae generator with its measured defaults and save it.

Same as `hea-zoo train --model cae`; every option of that command works here:

    python examples/train_cae.py                                   # bundled data -> cae.keras
    python examples/train_cae.py --data my.csv --composition-column formula \\
        --properties shear_modulus,fracture_toughness --out my_cae.keras
"""

import sys

from hea_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--model", "cae", *sys.argv[1:]]))
